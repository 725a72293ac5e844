"""What the simulation and stress-test routes share: staff only, a paged list, one run's detail, a stop.

A subclass names its model, its serializer and its services (``reap`` ends
runs that stopped reporting, ``stop`` asks a run to stop); it adds ``post``
(each kind starts differently) and its schema with ``extend_schema_view``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.db.models import Model, QuerySet
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import is_player
from common.pagination import OffsetPagination

from ..models import RunStatus


class IsStaff(BasePermission):
    message = "Only staff may run simulations and stress tests."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return is_player(request) and request.user.is_staff


class RunApi(GenericAPIView):
    permission_classes = [IsStaff]
    model: ClassVar[type[Model]]
    reap: ClassVar[Callable[[], int]]
    stop: ClassVar[Callable[[Model], Model]]
    not_found: ClassVar[str]

    def get_queryset(self) -> QuerySet[Model]:
        return self.model.objects.all()

    def get_object(self) -> Model:
        run = self.get_queryset().filter(pk=self.kwargs[self.lookup_url_kwarg]).first()
        if run is None:
            raise NotFound(self.not_found)
        return run

    def reap_dead(self) -> None:
        # A run whose server or worker died shows as over, not running forever.
        type(self).reap()

    def accepted(self, run: Model) -> Response:
        return Response(self.get_serializer(run).data, status=status.HTTP_202_ACCEPTED)


# No docstrings on these views: drf-spectacular would publish them as every route's description.


class RunListApi(RunApi):
    # GET: the runs, newest first, paged. Subclasses add POST.

    pagination_class = OffsetPagination

    def get(self, request: Request) -> Response:
        self.reap_dead()
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class RunDetailApi(RunApi):
    # GET one run; DELETE stops it: 202 while it winds down, 200 when it is already over.

    def get(self, request: Request, **kwargs: Any) -> Response:
        self.reap_dead()
        return Response(self.get_serializer(self.get_object()).data)

    def delete(self, request: Request, **kwargs: Any) -> Response:
        run = type(self).stop(self.get_object())
        code = status.HTTP_202_ACCEPTED if run.status == RunStatus.STOPPING else status.HTTP_200_OK
        return Response(self.get_serializer(run).data, status=code)
