"""Pages for money that moves later or on request: /scheduled (standing orders) and /requests
(asking to be paid, paying or declining). Every write goes to transaction_service through
``pages.remote`` with the user's own token, except creating a request (api.payment_requests: the
gateway names both people)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from api.client import DownstreamError
from api.payment_requests import payment_request_create_as
from pages import remote
from pages.forms import PaymentRequestForm, PayRequestForm, ScheduleForm, idempotency_key_new
from pages.views import _errors_from, _partial, _recipient, _with_new_key, signin_required, throttled
from walletkit.errors import ApiError
from walletkit.money import amount_format

ONCE_SECONDS = 24 * 3600  # how long a form's key keeps a resubmit from creating a second one


def _created_once(request: HttpRequest, key: str, create: Callable[[], object]) -> None:
    """Create at most once per form key: creating a schedule or a request has no idempotency key in the
    API, so a double click or a resubmit would make two (and a second schedule pays twice). The shared
    cache's atomic add decides between concurrent submits; a refusal frees the key for the corrected
    form. Raises DownstreamError/ApiError from ``create``."""
    slot = f"pages:once:{request.principal.id}:{key}"
    if not cache.add(slot, 1, timeout=ONCE_SECONDS):
        return
    try:
        create()
    except (DownstreamError, ApiError):
        cache.delete(slot)
        raise


# --- /scheduled ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@signin_required
@throttled("money")
def scheduled(request: HttpRequest) -> HttpResponse:
    token = request.access_token
    wallets = remote.wallets_list(token=token)
    initial = {"idempotency_key": idempotency_key_new(), "start_date": datetime.now(UTC).date(), "repeat": "monthly"}
    form = ScheduleForm(request.POST or None, wallets=wallets, initial=initial)
    form.wallets = wallets
    if request.method == "POST" and form.is_valid():
        recipient = _recipient(form, wallets)
        if recipient is not None:
            data = form.cleaned_data
            payload = {
                "from_wallet_id": recipient["source"]["id"], "to_wallet_id": recipient["wallet_id"],
                "amount": amount_format(data["amount"]), "start_date": data["start_date"].isoformat(),
                "repeat": data["repeat"], "end_date": data["end_date"].isoformat() if data["end_date"] else None,
                "note": data["note"],
            }  # fmt: skip
            try:
                _created_once(
                    request, data["idempotency_key"], lambda: remote.schedule_create(token=token, payload=payload)
                )
            except DownstreamError as error:
                _errors_from(form, error)
                form = _with_new_key(form)
            else:
                messages.success(request, f"Scheduled: {amount_format(data['amount'])} to {recipient['username']}.")
                return redirect("pages:scheduled")
    context = {"form": form, "schedules": remote.schedules_list(token=token), "has_wallets": bool(wallets)}
    return render(request, "pages/scheduled.html", context, status=400 if form.is_bound and form.errors else 200)


SCHEDULE_ACTIONS = {"pause": {"status": "PAUSED"}, "resume": {"status": "ACTIVE"}}


@require_POST
@signin_required
def schedule_action(request: HttpRequest, schedule_id: UUID, action: str) -> HttpResponse:
    """Pause, resume or cancel: each is idempotent in itself, so a resubmit changes nothing more."""
    token = request.access_token
    if action not in ("cancel", *SCHEDULE_ACTIONS):
        raise Http404("No such action.")
    try:
        if action == "cancel":
            remote.schedule_cancel(token=token, schedule_id=schedule_id)
        elif action in SCHEDULE_ACTIONS:
            remote.schedule_update(token=token, schedule_id=schedule_id, changes=SCHEDULE_ACTIONS[action])
    except DownstreamError as error:
        messages.error(request, error.body.get("detail", "That did not work."))
    return redirect("pages:scheduled")


# --- /requests ----------------------------------------------------------------------------------


def _lists_context(request: HttpRequest, wallets: list[dict]) -> dict:
    token = request.access_token
    incoming = remote.payment_requests_list(token=token, role="payer")
    for item in incoming:
        if item["status"] == "PENDING":
            payable = [w for w in wallets if w["currency"] == item["currency"]]
            item["pay_form"] = PayRequestForm(initial={"idempotency_key": idempotency_key_new()}, wallets=payable)
    return {"incoming": incoming, "outgoing": remote.payment_requests_list(token=token, role="requester")}


@require_http_methods(["GET", "POST"])
@signin_required
@throttled("money")
def payment_requests(request: HttpRequest) -> HttpResponse:
    token = request.access_token
    wallets = remote.wallets_list(token=token)
    if _partial(request) and request.method == "GET":
        return render(request, "partials/payment_requests.html", _lists_context(request, wallets))
    form = PaymentRequestForm(request.POST or None, wallets=wallets, initial={"idempotency_key": idempotency_key_new()})
    form.wallets = wallets
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        body = {"to_wallet_id": data["to_wallet"], "payer_username": data["payer_username"].strip().lstrip("@"),
                "amount": data["amount"], "note": data["note"]}  # fmt: skip
        try:
            _created_once(
                request, data["idempotency_key"],
                lambda: payment_request_create_as(requester_id=request.principal.id, body=body),
            )  # fmt: skip
        except ApiError as error:
            form.add_error("payer_username", str(error.detail))
            form = _with_new_key(form)
        except DownstreamError as error:
            _errors_from(form, error)
            form = _with_new_key(form)
        else:
            messages.success(request, f"Asked {body['payer_username']} for {amount_format(data['amount'])}.")
            return redirect("pages:requests")
    context = {"form": form, **_lists_context(request, wallets)}
    return render(request, "pages/requests.html", context, status=400 if form.is_bound and form.errors else 200)


@require_POST
@signin_required
@throttled("money")
def payment_request_pay(request: HttpRequest, request_id: UUID) -> HttpResponse:
    token = request.access_token
    form = PayRequestForm(request.POST, wallets=remote.wallets_list(token=token))
    if not form.is_valid():
        messages.error(request, "Choose a wallet to pay from.")
        return redirect("pages:requests")
    try:
        remote.payment_request_pay(
            token=token, request_id=request_id, from_wallet_id=form.cleaned_data["from_wallet"],
            key=form.cleaned_data["idempotency_key"],
        )  # fmt: skip
    except DownstreamError as error:
        messages.error(request, error.body.get("detail", "The payment was refused."))
    else:
        messages.success(request, "Paying…")
    return redirect("pages:requests")


@require_POST
@signin_required
def payment_request_act(request: HttpRequest, request_id: UUID, action: str) -> HttpResponse:
    """Decline (the payer) or cancel (the requester); a resubmit answers request_not_pending, shown."""
    if action not in ("decline", "cancel"):
        raise Http404("No such action.")
    try:
        remote.payment_request_act(token=request.access_token, request_id=request_id, action=action)
    except DownstreamError as error:
        messages.error(request, error.body.get("detail", "That did not work."))
    return redirect("pages:requests")
