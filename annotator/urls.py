"""Root URLs: pages, the REST API with its OpenAPI schema, admin, media and /healthz."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from annotator.health import healthz
from annotator.media import protected_media

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/", include("annotator.api.urls")),
    path("media/<path:path>", protected_media, name="media"),
    path("", include("annotator.web.urls")),
]

handler400 = "annotator.error_pages.bad_request"
handler403 = "annotator.error_pages.permission_denied"
handler404 = "annotator.error_pages.page_not_found"
handler500 = "annotator.error_pages.server_error"
