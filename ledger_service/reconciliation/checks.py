"""The checks: a Snapshot in, findings and totals out. Pure functions (no I/O), so the same snapshot
always gives the same findings, in the same order."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from ledger.models import Account
from reconciliation.selectors import ZERO, Snapshot
from walletkit.money import amount_format

CRITICAL, WARNING = "CRITICAL", "WARNING"


@dataclass(frozen=True)
class FindingData:
    kind: str
    severity: str
    subject: str
    subject_ids: dict = field(default_factory=dict)
    currency: str = ""
    expected: str = ""
    actual: str = ""
    detail: str = ""


def _effect(hold: dict, wallet_id: str) -> Decimal:
    """What capturing the hold does to this wallet's balance."""
    amount = Decimal(hold["amount"])
    return -amount if hold["from_wallet_id"] == wallet_id else amount


def in_flight(snapshot: Snapshot, wallet_id: str) -> Decimal:
    """Ledger figure minus wallet figure that is explained by movements between t0 and t1."""
    total = ZERO
    for hold in snapshot.wallet_holds.get(wallet_id, []):
        posted = hold["transaction_id"] in snapshot.posted
        if hold["status"] == "RESERVED" and posted:
            total += _effect(hold, wallet_id)  # in the ledger, not yet in the wallet
        elif hold["status"] == "CAPTURED" and not posted:
            total -= _effect(hold, wallet_id)  # in the wallet, posted after the ledger's cut
    return total


def in_flight_holds(snapshot: Snapshot) -> int:
    """How many (hold, wallet) pairs the cut counted as in flight (shows the correction was needed)."""
    return sum(
        1
        for holds in snapshot.wallet_holds.values()
        for hold in holds
        if (hold["status"] == "RESERVED") == (hold["transaction_id"] in snapshot.posted)
    )


def wallet_checks(snapshot: Snapshot) -> list[FindingData]:
    ledger = {str(a.wallet_id): a for a in snapshot.accounts if a.kind == Account.Kind.WALLET}
    findings = []
    for wallet in snapshot.wallets:
        wallet_id, currency = wallet["id"], wallet["currency"]
        account = ledger.get(wallet_id)
        expected = (account.postings if account else ZERO) - in_flight(snapshot, wallet_id)
        balance = Decimal(wallet["balance"])
        if balance != expected:
            findings.append(
                FindingData(
                    "WALLET_BALANCE_DRIFT", CRITICAL, wallet_id, {"wallet_id": wallet_id}, currency,
                    amount_format(expected), amount_format(balance),
                    f"wallet balance differs from the ledger by {amount_format(balance - expected)} "
                    f"(ledger {amount_format(account.postings if account else ZERO)}, "
                    f"in flight {amount_format(in_flight(snapshot, wallet_id))}, version {wallet['version']})",
                )
            )  # fmt: skip
        if account is not None and account.currency != currency:
            findings.append(
                FindingData(
                    "CURRENCY_MISMATCH", CRITICAL, wallet_id, {"wallet_id": wallet_id}, currency,
                    account.currency, currency, "the wallet and its ledger account have different currencies",
                )
            )  # fmt: skip
        held, reserved = Decimal(wallet["held"]), Decimal(wallet["reserved"])
        if held != reserved:
            findings.append(
                FindingData(
                    "WALLET_HELD_DRIFT", CRITICAL, wallet_id, {"wallet_id": wallet_id}, currency,
                    amount_format(reserved), amount_format(held), "held differs from the sum of RESERVED holds",
                )
            )  # fmt: skip
    known = {wallet["id"] for wallet in snapshot.wallets}
    for wallet_id, account in sorted(ledger.items()):
        if wallet_id not in known and account.postings != ZERO:
            findings.append(
                FindingData(
                    "ACCOUNT_WITHOUT_WALLET", CRITICAL, wallet_id,
                    {"wallet_id": wallet_id, "account_id": str(account.id)},
                    account.currency, amount_format(ZERO), amount_format(account.postings),
                    "the ledger holds money for a wallet the wallet service does not have",
                )
            )  # fmt: skip
    return findings


def ledger_checks(snapshot: Snapshot) -> list[FindingData]:
    findings = []
    for account in snapshot.accounts:
        if account.cached != account.postings:
            findings.append(
                FindingData(
                    "ACCOUNT_CACHE_DRIFT", CRITICAL, str(account.id),
                    {"account_id": str(account.id), "wallet_id": str(account.wallet_id or "")}, account.currency,
                    amount_format(account.postings), amount_format(account.cached),
                    "the account's cached balance (overdraft check) differs from its postings",
                )
            )  # fmt: skip
    for entry in snapshot.unbalanced_entries:
        findings.append(
            FindingData(
                "ENTRY_UNBALANCED", CRITICAL, entry["entry_id"], entry | {"sum": str(entry["sum"])}, "",
                "0", str(entry["sum"]), f"{entry['postings']} postings in {entry['currencies']} currencies",
            )
        )  # fmt: skip
    for currency, figures in _per_currency(snapshot).items():
        total = figures["ledger_wallets"] + figures["external"] + figures["suspense"]
        if total != ZERO:
            findings.append(
                FindingData(
                    "LEDGER_NOT_ZERO_SUM", CRITICAL, currency, {}, currency, "0.0000", amount_format(total),
                    "the postings of all accounts of the currency do not sum to zero",
                )
            )  # fmt: skip
    return findings


def transaction_checks(snapshot: Snapshot) -> list[FindingData]:
    findings = []
    for tx in snapshot.success_without_entry:
        findings.append(
            FindingData(
                "SUCCESS_WITHOUT_ENTRY", CRITICAL, tx["id"], {"transaction_id": tx["id"]}, tx.get("currency") or "",
                "1 entry", "0 entries", f"{tx['type']} {tx['amount']} is SUCCESS but the ledger has no entry",
            )
        )  # fmt: skip
    for entry in snapshot.entries_not_success:
        tx = entry["transaction"]
        kind = "ENTRY_WITHOUT_TRANSACTION" if tx is None else "ENTRY_WITHOUT_SUCCESS"
        findings.append(
            FindingData(
                kind, CRITICAL, entry["transaction_id"],
                {"transaction_id": entry["transaction_id"], "entry_id": entry["entry_id"]}, "",
                "SUCCESS", tx["status"] if tx else "missing",
                f"the ledger posted {entry['type']} {amount_format(entry['amount'])}",
            )
        )  # fmt: skip
    for mismatch in snapshot.amount_mismatches:
        tx = mismatch["transaction"]
        findings.append(
            FindingData(
                "ENTRY_AMOUNT_MISMATCH", CRITICAL, tx["id"],
                {"transaction_id": tx["id"], "entry_id": mismatch["entry_id"]},
                tx.get("currency") or "", tx["amount"], amount_format(mismatch["amount"]),
                "the entry moved another amount than the transaction",
            )
        )  # fmt: skip
    return findings


def operations_checks(snapshot: Snapshot) -> list[FindingData]:
    findings = []
    for tx in snapshot.stuck_sagas:
        findings.append(
            FindingData(
                "STUCK_SAGA", WARNING, tx["id"], {"transaction_id": tx["id"]}, tx.get("currency") or "",
                "SUCCESS or FAILED", tx["status"], f"{tx['type']} {tx['amount']} open since {tx['created_at']}",
            )
        )  # fmt: skip
    for anomaly in snapshot.anomalies:
        findings.append(
            FindingData(
                "TRANSACTION_ANOMALY", WARNING, f"{anomaly['kind']}:{anomaly['transaction_id']}",
                {"transaction_id": anomaly["transaction_id"], "anomaly_id": anomaly["id"]}, "", "", anomaly["kind"],
                anomaly["detail"],
            )
        )  # fmt: skip
    for service, letters in sorted(snapshot.dead_letters.items()):
        for letter in letters:
            findings.append(
                FindingData(
                    "DEAD_LETTER", WARNING, f"{service}:{letter['id']}",
                    {"service": service, "dead_letter_id": letter["id"], "key": letter["key"]}, "", "", "",
                    f"{letter['consumer']} {letter['topic']}[{letter['partition']}]@{letter['offset']}: "
                    f"{letter['error'][:500]}",
                )
            )  # fmt: skip
    return findings


def findings_all(snapshot: Snapshot) -> list[FindingData]:
    findings = wallet_checks(snapshot) + ledger_checks(snapshot) + transaction_checks(snapshot)
    findings += operations_checks(snapshot)
    return sorted(findings, key=lambda f: (f.kind, f.subject))


def _per_currency(snapshot: Snapshot) -> dict[str, dict[str, Decimal]]:
    figures: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: dict.fromkeys(("ledger_wallets", "external", "suspense", "wallet_balances", "in_flight"), ZERO)
    )
    names = {
        Account.Kind.WALLET: "ledger_wallets",
        Account.Kind.EXTERNAL: "external",
        Account.Kind.SUSPENSE: "suspense",
    }
    for account in snapshot.accounts:
        figures[account.currency][names[account.kind]] += account.postings
    for wallet in snapshot.wallets:
        figures[wallet["currency"]]["wallet_balances"] += Decimal(wallet["balance"])
        figures[wallet["currency"]]["in_flight"] += in_flight(snapshot, wallet["id"])
    return figures


def totals(snapshot: Snapshot) -> dict[str, dict[str, str]]:
    """Per currency, as decimal strings: ``ledger_wallets − in_flight`` should equal ``wallet_balances``."""
    result = {}
    for currency, figures in sorted(_per_currency(snapshot).items()):
        row = {name: amount_format(value) for name, value in figures.items()}
        row["difference"] = amount_format(
            figures["wallet_balances"] - (figures["ledger_wallets"] - figures["in_flight"])
        )
        result[currency] = row
    return result
