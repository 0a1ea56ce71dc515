"""Page-number pagination that refuses a malformed ``page`` instead of guessing one.

DRF's paginator reads an empty ``page=`` as page 1 and answers any other bad value with
404 "Invalid page", so a typo looks like a missing project. Here a ``page`` that is not a
whole number from 1 up answers 400 and names the parameter; a page past the end stays a
404, as in DRF. The schema says the same (``minimum: 1``).
"""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination


class PageQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, required=False)


class StrictPageNumberPagination(PageNumberPagination):
    last_page_strings = ()

    def get_page_number(self, request, paginator) -> int:
        sent = request.query_params.get(self.page_query_param)
        query = PageQuerySerializer(data={} if sent is None else {"page": sent})
        query.is_valid(raise_exception=True)
        return query.validated_data.get("page", 1)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters
