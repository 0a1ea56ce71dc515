"""Root URLs: pages, the REST API with its OpenAPI schema, admin, media, /healthz and /metrics."""

from __future__ import annotations

from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from annotator.health import healthz
from annotator.media import protected_media
from annotator.metrics_endpoint import metrics

# Swagger UI and ReDoc inject their own <style> elements; their pages (and only they) may use
# inline styles, and ReDoc runs its search in a worker made from a blob. Scripts stay 'self'
# only: Swagger UI's start-up script comes as a file (the split view), and ReDoc starts from
# its <redoc> element.
docs_styles = csp_update({"style-src": ["'unsafe-inline'"], "worker-src": ["'self'", "blob:"]})

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/", docs_styles(SpectacularSwaggerSplitView.as_view(url_name="api-schema")), name="api-docs"
    ),
    path("api/redoc/", docs_styles(SpectacularRedocView.as_view(url_name="api-schema")), name="api-redoc"),
    path("api/", include("annotator.api.urls")),
    path("media/<path:path>", protected_media, name="media"),
    path("", include("annotator.web.urls")),
]

handler400 = "annotator.error_pages.bad_request"
handler403 = "annotator.error_pages.permission_denied"
handler404 = "annotator.error_pages.page_not_found"
handler500 = "annotator.error_pages.server_error"
