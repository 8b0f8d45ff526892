"""The contract's `?skip=&limit=` for GET /api/items, as a DRF pagination class.

DRF's LimitOffsetPagination names them limit/offset and wraps the page in
{count, results}; the contract (lab 02's) names them skip/limit and answers a
plain list. So a small class of our own: the parameters are checked by a
serializer (400 when out of range), the page is the list itself.
"""

from __future__ import annotations

from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from jobs.serializers import ListQuerySerializer


class SkipLimitPagination(BasePagination):
    def paginate_queryset(self, queryset, request, view=None):
        query = ListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        skip, limit = query.validated_data["skip"], query.validated_data["limit"]
        return list(queryset[skip : skip + limit])

    def get_paginated_response(self, data):
        return Response(data)

    def get_schema_operation_parameters(self, view):
        return [
            {"name": "skip", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}},
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": 100},
            },
        ]
