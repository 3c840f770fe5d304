"""The browser app: plain forms and full pages that work without JavaScript; with htmx (hx-boost,
partial swaps, the websocket) they only get quicker. Every read and write goes to the services
through ``pages.remote`` with the user's own access token; nothing here decides a business rule."""

from __future__ import annotations

import functools
import math
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import urlencode
from uuid import UUID

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from rest_framework import exceptions

from accounts.selectors import session_list_live
from accounts.services import (
    PASSWORD_RESET_ACCEPTED,
    password_reset_confirm,
    password_reset_request,
    session_revoke,
    user_logout,
    user_password_change,
    user_register,
)
from accounts.tokens import LoginLockedOut, TokenObtainSerializer, session_id_of
from accounts.two_factor import (
    two_factor_confirm,
    two_factor_disable,
    two_factor_pending,
    two_factor_setup,
    two_factor_status,
)
from api import statements
from api.client import DownstreamError
from api.throttling import password_reset_throttle_wait, throttle_wait
from pages import charts, remote
from pages.cookies import tokens_clear, tokens_set
from pages.forms import (
    HistoryFilterForm,
    LimitsForm,
    LoginForm,
    MovementForm,
    PasswordChangeForm,
    PasswordResetForm,
    RefundForm,
    SetPasswordForm,
    SignupForm,
    StatementPeriodForm,
    TransferForm,
    TwoFactorCodeForm,
    TwoFactorSetupForm,
    WalletOpenForm,
    idempotency_key_new,
)
from walletkit.errors import ApiError
from walletkit.money import amount_format

ACTIVITY_ON_DASHBOARD = 10
HISTORY_FOR_CHART = 50
HISTORY_PAGE = 20


def signin_required(view):
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if request.access_token is None:
            return redirect(f"{reverse('pages:login')}?{urlencode({'next': request.get_full_path()})}")
        try:
            return view(request, *args, **kwargs)
        except ApiError as error:
            return render(request, "pages/problem.html", {"detail": str(error.detail)}, status=error.status_code)

    return wrapper


def _too_many(request: HttpRequest, wait: float) -> HttpResponse:
    seconds = max(1, math.ceil(wait))
    context = {"detail": f"Too many requests; try again in {seconds} seconds. Nothing was changed."}
    response = render(request, "pages/throttled.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


def throttled(scope: str, *, counts=lambda request: request.method == "POST"):
    """The API's throttle scope on a form: requests for which ``counts`` is true are counted in the
    same Redis counters as the API's ("money" per user, "auth" per client address); over the rate,
    a 429 page says when to try again and the view never runs. Showing a form is free."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if counts(request) and (wait := throttle_wait(request, scope=scope)) is not None:
                return _too_many(request, wait)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def _paying(request: HttpRequest) -> bool:
    """Only the transfer's last step moves money; the review step before it does not count."""
    return request.method == "POST" and request.POST.get("step") == "pay"


def _partial(request: HttpRequest) -> bool:
    """An htmx swap of one part of the page (not a boosted navigation, not a history restore)."""
    htmx = request.htmx
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def _errors_from(form, error: exceptions.ValidationError | DownstreamError) -> None:
    detail = error.detail if isinstance(error, exceptions.ValidationError) else error.body.get("errors")
    if isinstance(detail, dict):
        for field, problems in detail.items():
            for problem in problems if isinstance(problems, list) else [problems]:
                form.add_error(field if field in form.fields else None, str(problem))
    else:
        form.add_error(None, error.body.get("detail", "Refused.") if isinstance(error, DownstreamError) else detail)


# --- Sign-up, login, logout ---------------------------------------------------------------------


LOGIN_REFUSED = {
    "otp_required": "Two-factor sign-in is on for this account: enter the code from your authenticator app "
    "(or a recovery code) with your password.",
    "otp_invalid": "That authentication code is wrong or was already used.",
}


def _signed_in(request: HttpRequest, *, username: str, password: str, form, otp: str = "") -> HttpResponse | None:
    """Checks the password (and the code, with two-factor sign-in on) the way the API does
    (django-axes counts failures); sets the cookies."""
    credentials = {"username": username, "password": password, "otp": otp}
    serializer = TokenObtainSerializer(data=credentials, context={"request": request})
    try:
        serializer.is_valid(raise_exception=True)
    except LoginLockedOut as locked:
        form.add_error(None, str(locked.detail))
        return None
    except exceptions.AuthenticationFailed as refused:
        reason = LOGIN_REFUSED.get(refused.get_codes(), "Wrong username or password.")
        form.add_error("otp" if refused.get_codes() in LOGIN_REFUSED else None, reason)
        return None
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        target = ""
    response = redirect(target or reverse("pages:dashboard"))
    tokens_set(response, access=serializer.validated_data["access"], refresh=serializer.validated_data["refresh"])
    return response


@require_http_methods(["GET", "POST"])
@throttled("auth")
def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user_register(**form.cleaned_data)
        except exceptions.ValidationError as error:
            _errors_from(form, error)
        except ApiError as error:
            form.add_error(None, str(error.detail))
        else:
            response = _signed_in(
                request, username=form.cleaned_data["username"], password=form.cleaned_data["password"], form=form
            )
            if response is not None:
                messages.success(request, "Welcome! Your first wallet is open.")
                return response
    status = 400 if form.is_bound else 200
    return render(request, "pages/signup.html", {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
@throttled("auth")
def login(request: HttpRequest) -> HttpResponse:
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        response = _signed_in(request, form=form, **form.cleaned_data)
        if response is not None:
            return response
    status = 400 if form.is_bound else 200
    next_url = request.POST.get("next") or request.GET.get("next", "")
    return render(request, "pages/login.html", {"form": form, "next": next_url}, status=status)


@require_http_methods(["GET", "POST"])
def logout(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "pages/logout.html")
    # The middleware's refresh token, not the cookie's: with an expired access cookie it has just
    # rotated the cookie's token, and the new one is the one left to revoke.
    refresh = request.refresh_token
    if request.principal is not None and refresh:
        try:
            user_logout(user_id=request.principal.id, refresh=refresh)
        except exceptions.AuthenticationFailed:
            pass  # already rotated or blacklisted: nothing left to revoke
    response = redirect("pages:login")
    tokens_clear(response)
    messages.info(request, "You are signed out.")
    return response


# --- Password reset and settings ----------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    """The same answer whether or not the email has an account (accounts.services)."""
    form = PasswordResetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        if (wait := password_reset_throttle_wait(request, email=email)) is not None:
            return _too_many(request, wait)
        password_reset_request(email=email, site=request.build_absolute_uri("/").rstrip("/"))
        return render(request, "pages/password_reset_sent.html", {"detail": PASSWORD_RESET_ACCEPTED})
    status = 400 if form.is_bound else 200
    return render(request, "pages/password_reset.html", {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
@throttled("auth")
def password_reset_confirm_page(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    form = SetPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            password_reset_confirm(uid=uidb64, token=token, new_password=form.cleaned_data["new_password"])
        except exceptions.ValidationError as error:
            _errors_from(form, error)
        except ApiError as error:
            form.add_error(None, str(error.detail))
        else:
            messages.success(request, "Your password is changed; log in with it. Every session was signed out.")
            response = redirect("pages:login")
            tokens_clear(response)
            return response
    status = 400 if form.is_bound else 200
    return render(request, "pages/password_reset_confirm.html", {"form": form}, status=status)


def _settings_page(
    request: HttpRequest, *, password_form: PasswordChangeForm | None = None, status: int = 200, **two_factor
) -> HttpResponse:
    """The whole page; ``two_factor`` overrides parts of its two-factor section (a form with
    errors, the recovery codes just made)."""
    user_id = request.principal.id
    current = session_id_of(request.access_token)
    sessions = [
        {"session": session, "current": session.id == current} for session in session_list_live(user_id=user_id)
    ]
    context = {
        "password_form": password_form or PasswordChangeForm(),
        "sessions": sessions,
        "two_factor": two_factor_status(user_id=user_id),
        "pending": two_factor_pending(user_id=user_id),
        "setup_form": TwoFactorSetupForm(),
        "code_form": TwoFactorCodeForm(),
        **two_factor,
    }
    return render(request, "pages/settings.html", context, status=status)


@require_http_methods(["GET", "POST"])
@signin_required
@throttled("auth")
def account_settings(request: HttpRequest) -> HttpResponse:
    """Password change (POST) and the list of signed-in sessions."""
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user_password_change(
                user_id=request.principal.id, session_id=session_id_of(request.access_token), **form.cleaned_data
            )
        except exceptions.ValidationError as error:
            _errors_from(form, error)
        except ApiError as error:
            form.add_error("old_password" if error.get_codes() == "wrong_password" else None, str(error.detail))
        else:
            messages.success(request, "Your password is changed. Every other session was signed out.")
            return redirect("pages:settings")
    return _settings_page(request, password_form=form, status=400 if form.is_bound else 200)


def _two_factor_refused(request: HttpRequest, error: ApiError, **forms) -> HttpResponse:
    """The settings page again, the refusal on the form that was sent."""
    form = next(iter(forms.values()))
    field = {"wrong_password": "password", "otp_invalid": "code"}.get(error.get_codes())
    form.add_error(field, str(error.detail))
    return _settings_page(request, status=error.status_code, **forms)


@require_POST
@signin_required
@throttled("auth")
def two_factor_setup_page(request: HttpRequest) -> HttpResponse:
    """Starts the setup: the page then shows the QR code and asks for a first code."""
    form = TwoFactorSetupForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, setup_form=form, status=400)
    try:
        two_factor_setup(user_id=request.principal.id, password=form.cleaned_data["password"])
    except ApiError as error:
        return _two_factor_refused(request, error, setup_form=form)
    return redirect(f"{reverse('pages:settings')}#two-factor")


@require_POST
@signin_required
@throttled("auth")
def two_factor_confirm_page(request: HttpRequest) -> HttpResponse:
    """Turns it on; the answer is the one page that ever shows the recovery codes (no redirect)."""
    form = TwoFactorCodeForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, code_form=form, status=400)
    try:
        codes = two_factor_confirm(user_id=request.principal.id, code=form.cleaned_data["code"])
    except ApiError as error:
        return _two_factor_refused(request, error, code_form=form)
    return _settings_page(request, recovery_codes=codes)


@require_POST
@signin_required
@throttled("auth")
def two_factor_disable_page(request: HttpRequest) -> HttpResponse:
    form = TwoFactorCodeForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, code_form=form, status=400)
    try:
        two_factor_disable(user_id=request.principal.id, code=form.cleaned_data["code"], request=request)
    except ApiError as error:
        return _two_factor_refused(request, error, code_form=form)
    messages.success(request, "Two-factor sign-in is off: logging in needs your password only.")
    return redirect("pages:settings")


@require_POST
@signin_required
def session_revoke_page(request: HttpRequest, session_id: UUID) -> HttpResponse:
    session_revoke(user_id=request.principal.id, session_id=session_id)
    if session_id == session_id_of(request.access_token):
        response = redirect("pages:login")
        tokens_clear(response)
        messages.info(request, "You are signed out.")
        return response
    messages.success(request, "That session is signed out.")
    return redirect("pages:settings")


# --- Dashboard and wallets ----------------------------------------------------------------------


def _wallet_card(token: str, wallet: dict) -> dict:
    entries = remote.wallet_history_page(token=token, wallet_id=wallet["id"], limit=HISTORY_FOR_CHART)["results"]
    series = charts.balance_series(entries=entries, balance=Decimal(wallet["balance"]))
    return {**wallet, "chart": charts.sparkline(series)}


@signin_required
def dashboard(request: HttpRequest) -> HttpResponse:
    token = request.access_token
    wallets = [_wallet_card(token, wallet) for wallet in remote.wallets_list(token=token)]
    activity = remote.activity_page(token=token, limit=ACTIVITY_ON_DASHBOARD)["results"]
    names = {w["id"]: w["name"] or w["currency"] for w in wallets}
    return render(
        request,
        "pages/dashboard.html",
        {"wallets": wallets, "activity": activity, "wallet_names": names, "open_form": WalletOpenForm()},
    )


@require_POST
@signin_required
def wallet_open(request: HttpRequest) -> HttpResponse:
    form = WalletOpenForm(request.POST)
    if form.is_valid():
        try:
            wallet = remote.wallet_open(token=request.access_token, **form.cleaned_data)
        except DownstreamError as error:
            _errors_from(form, error)
        else:
            messages.success(request, f"Opened {wallet['name'] or 'a'} {wallet['currency']} wallet.")
            return redirect("pages:dashboard")
    return render(request, "pages/wallet_open.html", {"form": form}, status=400)


def _day_start(day) -> str:
    return datetime.combine(day, time.min, tzinfo=UTC).isoformat()


@signin_required
@vary_on_headers("HX-Request")
def wallet_detail(request: HttpRequest, wallet_id: UUID) -> HttpResponse:
    token = request.access_token
    wallet = remote.wallet_get(token=token, wallet_id=wallet_id)
    filters = HistoryFilterForm(request.GET or None)
    chosen = filters.cleaned_data if filters.is_valid() else {}
    params = {
        "limit": HISTORY_PAGE,
        "status": chosen.get("status"),
        "type": chosen.get("type"),
        "cursor": chosen.get("cursor"),
        # A date range is whole days: "until" includes its own day.
        "since": _day_start(chosen["since"]) if chosen.get("since") else None,
        "until": _day_start(chosen["until"] + timedelta(days=1)) if chosen.get("until") else None,
    }
    page = remote.wallet_history_page(token=token, wallet_id=wallet_id, **params)
    kept = {k: request.GET[k] for k in ("status", "type", "since", "until") if request.GET.get(k)}
    context = {
        "wallet": wallet,
        "filters": filters,
        "entries": page["results"],
        "older_query": urlencode({**kept, "cursor": page["next"]}) if page.get("next") else None,
        "first_query": urlencode(kept),
        "paged": bool(chosen.get("cursor")),
    }
    template = "partials/history.html" if _partial(request) else "pages/wallet.html"
    return render(request, template, context, status=200 if filters.is_valid() or not request.GET else 400)


def _statement_period(request: HttpRequest) -> tuple[StatementPeriodForm, statements.Period | None]:
    """This month, last month, or the custom days; a bad or too long period is a form error."""
    form = StatementPeriodForm(request.GET or None)
    chosen = form.cleaned_data if form.is_valid() else {}
    today = timezone.now().date()
    if chosen.get("period") == "last":
        return form, statements.period_last_month(today)
    if chosen.get("period") != "custom":
        return form, statements.period_this_month(today)
    try:
        return form, statements.period_get(first=chosen.get("first"), last=chosen.get("last"), today=today)
    except (ApiError, exceptions.ValidationError) as error:
        form.add_error("last", error.detail if isinstance(error, ApiError) else "“To” is before “From”.")
        return form, None


@signin_required
def wallet_statement(request: HttpRequest, wallet_id: UUID) -> HttpResponse:
    wallet = remote.wallet_get(token=request.access_token, wallet_id=wallet_id)
    form, period = _statement_period(request)
    context = {"wallet": wallet, "form": form, "period": period}
    if period is None:
        return render(request, "pages/statement.html", context, status=400)
    with statements.statement_open(wallet=wallet, period=period, user_id=request.principal.id) as statement:
        context |= {"statement": statement.header(), "lines": list(statement.lines)}
    context["download"] = urlencode({"from": period.first.isoformat(), "to": period.last.isoformat()})
    return render(request, "pages/statement.html", context)


@signin_required
def wallet_statement_download(request: HttpRequest, wallet_id: UUID, kind: str) -> HttpResponse:
    """The statement as a CSV or PDF file, for the page's download buttons (the cookie's user)."""
    if kind not in ("csv", "pdf"):
        raise Http404("No such format.")
    wallet = remote.wallet_get(token=request.access_token, wallet_id=wallet_id)
    try:
        first, last = (date.fromisoformat(request.GET[name]) for name in ("from", "to"))
        period = statements.period_get(first=first, last=last, today=timezone.now().date())
    except (KeyError, ValueError, ApiError, exceptions.ValidationError):
        return render(request, "pages/problem.html", {"detail": "Choose a valid period."}, status=400)
    return statements.statement_response(wallet=wallet, period=period, user_id=request.principal.id, kind=kind)


# --- Money movements ----------------------------------------------------------------------------


def _movement(request: HttpRequest, wallet_id: UUID, *, kind: str) -> HttpResponse:
    token = request.access_token
    wallet = remote.wallet_get(token=token, wallet_id=wallet_id)
    form = MovementForm(request.POST or None, initial={"idempotency_key": idempotency_key_new()})
    if request.method == "POST" and form.is_valid():
        inbound = kind == "DEPOSIT"
        try:
            transaction = remote.movement_submit(
                token=token, kind=kind, amount=form.cleaned_data["amount"], key=form.cleaned_data["idempotency_key"],
                from_wallet_id=None if inbound else wallet_id, to_wallet_id=wallet_id if inbound else None,
            )  # fmt: skip
        except DownstreamError as error:
            _errors_from(form, error)
            form = _with_new_key(form)
        else:
            return redirect("pages:transaction", transaction_id=transaction["id"])
    template = "pages/deposit.html" if kind == "DEPOSIT" else "pages/withdraw.html"
    return render(request, template, {"wallet": wallet, "form": form}, status=400 if form.is_bound else 200)


def _with_new_key(form):
    """After a refusal the old key is spent on a FAILED transaction: the next try is a new one."""
    data = form.data.copy()
    data["idempotency_key"] = idempotency_key_new()
    fresh = type(form)(data, **({"wallets": form.wallets} if hasattr(form, "wallets") else {}))
    fresh.is_valid()
    for field, problems in form.errors.items():
        for problem in problems:
            if problem not in fresh.errors.get(field, []):
                fresh.add_error(None if field == "__all__" else field, problem)
    return fresh


@require_http_methods(["GET", "POST"])
@signin_required
@throttled("money")
def deposit(request: HttpRequest, wallet_id: UUID) -> HttpResponse:
    return _movement(request, wallet_id, kind="DEPOSIT")


@require_http_methods(["GET", "POST"])
@signin_required
@throttled("money")
def withdraw(request: HttpRequest, wallet_id: UUID) -> HttpResponse:
    return _movement(request, wallet_id, kind="WITHDRAWAL")


def _recipient(form: TransferForm, wallets: list[dict]) -> dict | None:
    """The wallet the payment goes to, or None with the reason added to the form."""
    source = next(w for w in wallets if w["id"] == form.cleaned_data["from_wallet"])
    text = form.cleaned_data["recipient"].strip()
    try:
        wallet_id = UUID(text)
    except ValueError:
        found = remote.recipient_by_username(username=text.lstrip("@"), currency=source["currency"])
        if found is None:
            form.add_error("recipient", f"There is no user called “{text}”.")
            return None
        if found["wallet_id"] is None:
            form.add_error("recipient", f"{found['username']} has no {source['currency']} wallet.")
            return None
    else:
        found = remote.recipient_by_wallet(wallet_id=wallet_id)
        own = found is not None and any(w["id"] == found["wallet_id"] for w in wallets)
        if found is None or (found["currency"] != source["currency"] and not own):
            # A missing wallet and a stranger's in another currency read the same, as in the API: an id
            # tells a payer only whether it is a wallet they can pay in their currency (threat model T28).
            form.add_error("recipient", f"There is no {source['currency']} wallet with this id.")
            return None
        if found["currency"] != source["currency"]:
            form.add_error("recipient", f"That wallet holds {found['currency']}; yours holds {source['currency']}.")
            return None
    if found["wallet_id"] == source["id"]:
        form.add_error("recipient", "That is the wallet you are paying from.")
        return None
    return {**found, "source": source}


@require_http_methods(["GET", "POST"])
@signin_required
@throttled("money", counts=_paying)
def transfer(request: HttpRequest) -> HttpResponse:
    """Two steps on one URL: the form, then "You are sending …" with a Pay button. Both carry the
    idempotency key made when the form was first shown, so every resubmit is the same payment."""
    token = request.access_token
    wallets = remote.wallets_list(token=token)
    initial = {"idempotency_key": idempotency_key_new(), "from_wallet": request.GET.get("from", "")}
    form = TransferForm(request.POST or None, wallets=wallets, initial=initial)
    form.wallets = wallets
    step = request.POST.get("step", "review")
    if request.method == "POST" and form.is_valid() and step != "edit":
        recipient = _recipient(form, wallets)
        if recipient is not None and step == "pay":
            try:
                transaction = remote.movement_submit(
                    token=token, kind="TRANSFER", from_wallet_id=recipient["source"]["id"],
                    to_wallet_id=recipient["wallet_id"], amount=form.cleaned_data["amount"],
                    key=form.cleaned_data["idempotency_key"],
                )  # fmt: skip
            except DownstreamError as error:
                _errors_from(form, error)
                form = _with_new_key(form)
            else:
                return redirect("pages:transaction", transaction_id=transaction["id"])
        elif recipient is not None:
            context = {"form": form, "recipient": recipient, "amount": form.cleaned_data["amount"]}
            return render(request, "pages/transfer_confirm.html", context)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "pages/transfer.html", {"form": form, "has_wallets": bool(wallets)}, status=status)


# --- Transactions -------------------------------------------------------------------------------

TIMELINE = [("created_at", "Initiated"), ("reserved_at", "Funds reserved"), ("posted_at", "Posted to the ledger")]


def timeline(transaction: dict) -> list[dict]:
    """The saga's steps with the times transaction_service recorded: SUCCESS means the ledger posted
    it and the wallet captured it (decision 0005); FAILED ends the line with its reason."""
    status = transaction["status"]
    steps = [
        {"label": label, "at": transaction.get(field), "done": bool(transaction.get(field)) or status == "SUCCESS"}
        for field, label in TIMELINE
    ]
    if status == "FAILED":
        steps = [step for step in steps if step["at"]]  # a refusal ends the saga wherever it was
        steps.append({"label": "Failed", "done": True, "failed": True, "reason": transaction.get("failure_reason")})
    else:
        steps.append({"label": "Succeeded", "done": status == "SUCCESS"})
    if status in ("SUCCESS", "FAILED"):
        steps[-1]["at"] = transaction.get("updated_at")
    return steps


def _transaction_context(request: HttpRequest, transaction_id: UUID) -> dict:
    transaction = remote.transaction_get(
        token=request.access_token, transaction_id=transaction_id, user_id=request.principal.id
    )
    return {"transaction": transaction, "timeline": timeline(transaction), "sides": _sides(transaction)}


def _sides(transaction: dict) -> dict:
    """Names for the page's From/To: the counterparty on its side, the caller ("you") on the other."""
    counterparty = transaction.get("counterparty")
    if not counterparty:
        return {}
    name = counterparty["username"] or "a deleted user"
    return {"to": name} if str(counterparty["wallet_id"]) == str(transaction["to_wallet_id"]) else {"from": name}


def refundable(transaction: dict) -> Decimal:
    """What refunds not FAILED leave of a transfer (transaction_service enforces it; this only sizes the form)."""
    refunded = sum(
        (Decimal(r["amount"]) for r in transaction.get("refunds", []) if r["status"] != "FAILED"), Decimal(0)
    )
    return max(Decimal(transaction["amount"]) - refunded, Decimal(0))


def _refund_offer(request: HttpRequest, transaction: dict, form: RefundForm | None = None) -> dict:
    """The Refund button: only on a SUCCESS transfer the viewer received (into one of their wallets)."""
    if transaction["type"] != "TRANSFER" or transaction["status"] != "SUCCESS":
        return {}
    own = {wallet["id"] for wallet in remote.wallets_list(token=request.access_token)}
    left = refundable(transaction)
    if transaction["to_wallet_id"] not in own or not left:
        return {}
    form = form or RefundForm(initial={"amount": amount_format(left), "idempotency_key": idempotency_key_new()})
    return {"refund_form": form, "refundable": left}


@signin_required
def transaction_detail(request: HttpRequest, transaction_id: UUID) -> HttpResponse:
    context = _transaction_context(request, transaction_id)
    return render(request, "pages/transaction.html", {**context, **_refund_offer(request, context["transaction"])})


@require_POST
@signin_required
@throttled("money")
def transaction_refund(request: HttpRequest, transaction_id: UUID) -> HttpResponse:
    """The hidden key travels with the form: a double click or a resubmit is one refund."""
    form = RefundForm(request.POST)
    if form.is_valid():
        try:
            refund = remote.refund_submit(
                token=request.access_token, transaction_id=transaction_id, amount=form.cleaned_data["amount"],
                key=form.cleaned_data["idempotency_key"],
            )  # fmt: skip
        except DownstreamError as error:
            if error.status_code == 404:
                raise Http404("Transaction not found.") from None
            _errors_from(form, error)
            form = _with_new_key(form)
        else:
            return redirect("pages:transaction", transaction_id=refund["id"])
    context = _transaction_context(request, transaction_id)
    offer = _refund_offer(request, context["transaction"], form=form)
    return render(request, "pages/transaction.html", {**context, **offer, "refund_form": form}, status=400)


@require_http_methods(["GET", "POST"])
@signin_required
def wallet_limits(request: HttpRequest, wallet_id: UUID) -> HttpResponse:
    token = request.access_token
    wallet = remote.wallet_get(token=token, wallet_id=wallet_id)
    limits = remote.wallet_limits_get(token=token, wallet_id=wallet_id)
    form = LimitsForm(
        request.POST or None, initial={"daily_out": limits["daily_out"], "monthly_out": limits["monthly_out"]}
    )
    if request.method == "POST" and form.is_valid():
        try:
            remote.wallet_limits_set(token=token, wallet_id=wallet_id, **form.cleaned_data)
        except DownstreamError as error:
            _errors_from(form, error)
        else:
            messages.success(request, "Spending limits saved.")
            return redirect("pages:wallet-limits", wallet_id=wallet_id)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "pages/limits.html", {"wallet": wallet, "limits": limits, "form": form}, status=status)


@signin_required
def transaction_status(request: HttpRequest, transaction_id: UUID) -> HttpResponse:
    """The badge and timeline alone: what static/js/live.js swaps in when the websocket says so."""
    if not request.htmx:
        return redirect("pages:transaction", transaction_id=transaction_id)
    return render(request, "partials/transaction_status.html", _transaction_context(request, transaction_id))
