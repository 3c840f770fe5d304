"""``/staff/reconciliation``: ledger_service's staff endpoints, called with the staff user's own
token (the ledger checks the ``is_staff`` claim itself). Non-staff get a plain 404 here, so the
page does not reveal it exists."""

from __future__ import annotations

import functools

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from api.client import DownstreamError, service_call
from pages import charts
from pages.forms import ResolveForm
from pages.views import signin_required

RUNS_SHOWN = 30


def staff_required(view):
    @functools.wraps(view)
    @signin_required
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.principal.is_staff:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def _ledger(request: HttpRequest, method: str, path: str, **kwargs):
    return service_call(method, "ledger", path, user_token=request.access_token, **kwargs)[1]


def _section(request: HttpRequest, path: str) -> dict:
    """One panel's data, or ``{"error": ...}``: a service that is down must not blank the page."""
    try:
        return _ledger(request, "GET", path)
    except DownstreamError as error:
        return {"error": error.body.get("detail", "Refused.")}
    except Exception as error:  # noqa: BLE001 — ApiError(503) and friends: shown in that panel only
        return {"error": str(getattr(error, "detail", error))}


@staff_required
def reconciliation(request: HttpRequest) -> HttpResponse:
    runs = _ledger(request, "GET", "/reconciliation/runs", params={"limit": RUNS_SHOWN})["results"]
    chosen = request.GET.get("run")
    run_id = int(chosen) if chosen and chosen.isdigit() else (runs[0]["id"] if runs else None)
    run = _section(request, f"/reconciliation/runs/{run_id}") if run_id else None
    context = {
        "runs": runs,
        "run": run,
        "bars": charts.findings_bars(runs),
        "findings_total": sum((run.get("counts") or {}).get("findings", 0) for run in runs),
        "totals": _section(request, "/reconciliation/totals"),
        "stuck": _section(request, "/reconciliation/stuck-sagas"),
        "dead_letters": _section(request, "/reconciliation/dead-letters"),
        "operations": _section(request, "/reconciliation/operations"),
    }
    return render(request, "staff/reconciliation.html", context)


@require_POST
@staff_required
def run_now(request: HttpRequest) -> HttpResponse:
    run = _ledger(request, "POST", "/reconciliation/runs", timeout=60)
    messages.success(request, f"Run {run['id']} finished: {run['status']}.")
    return redirect(f"/staff/reconciliation?run={run['id']}")


def _finding(request: HttpRequest, run_id: int, finding_id: int) -> dict:
    try:
        run = _ledger(request, "GET", f"/reconciliation/runs/{run_id}")
    except DownstreamError:
        raise Http404 from None
    finding = next((f for f in run["findings"] if f["id"] == finding_id), None)
    if finding is None:
        raise Http404
    return finding


@require_http_methods(["GET", "POST"])
@staff_required
def resolve(request: HttpRequest, run_id: int, finding_id: int) -> HttpResponse:
    """Two steps: the form (action, required reason), then a confirmation that repeats what will
    happen; only the confirmed POST calls the ledger."""
    finding = _finding(request, run_id, finding_id)
    form = ResolveForm(request.POST or None)
    context = {"finding": finding, "form": form, "run_id": run_id}
    if request.method == "POST" and form.is_valid():
        if request.POST.get("step") != "confirm":
            return render(request, "staff/resolve_confirm.html", context)
        body = {"action": form.cleaned_data["action"], "reason": form.cleaned_data["reason"]}
        if body["action"] == "adjust":
            body["amount"] = form.cleaned_data["amount"].strip()
        try:
            _ledger(request, "POST", f"/reconciliation/findings/{finding_id}/resolve", json=body, timeout=30)
        except DownstreamError as error:
            form.add_error(None, error.body.get("detail", "Refused."))
        else:
            messages.success(request, f"Finding {finding_id} resolved ({body['action']}).")
            return redirect(f"/staff/reconciliation?run={run_id}")
    return render(request, "staff/resolve.html", context, status=400 if form.is_bound else 200)
