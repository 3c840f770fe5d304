from django.urls import path

from live.consumers import TransactionStatusConsumer

websocket_urlpatterns = [
    path("ws/transactions/", TransactionStatusConsumer.as_asgi()),
]
