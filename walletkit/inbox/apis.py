from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from walletkit.auth import internal_callers
from walletkit.inbox.models import DeadLetter


class DeadLetterListApi(APIView):
    """Internal: this service's dead-lettered events, a keyset page by id (for reconciliation)."""

    permission_classes = [internal_callers("ledger")]  # reconciliation (at ledger_service: itself)

    class FilterSerializer(serializers.Serializer):
        after = serializers.IntegerField(required=False, default=None)
        limit = serializers.IntegerField(required=False, min_value=1, max_value=500, default=100)

    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        rows = DeadLetter.objects.order_by("id")
        if filters.validated_data["after"] is not None:
            rows = rows.filter(id__gt=filters.validated_data["after"])
        limit = filters.validated_data["limit"]
        fields = ("id", "consumer", "topic", "partition", "offset", "key", "error", "attempts", "created_at")
        page = list(rows.values(*fields)[: limit + 1])
        return Response({"results": page[:limit], "next": page[limit - 1]["id"] if len(page) > limit else None})
