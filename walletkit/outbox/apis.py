from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from walletkit.auth import internal_callers
from walletkit.outbox.services import outbox_republish


class OutboxRepublishApi(APIView):
    """Internal: send a saga's events again (the sweeper asks this when a hop went missing)."""

    permission_classes = [internal_callers("transaction")]  # the sweeper (at transaction_service: itself)

    class InputSerializer(serializers.Serializer):
        key = serializers.CharField(required=False)
        since = serializers.DateTimeField(required=False)

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if not data.validated_data:
            return Response({"code": "invalid", "detail": "Give a key or a since."}, status=400)
        return Response({"republished": outbox_republish(**data.validated_data)})
