"""Signed-in sessions: one per refresh-token family, listed with the caller's marked, revocable one
by one, never someone else's."""

from __future__ import annotations

import uuid

import jwt
import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Session
from accounts.tests.test_passwords import bearer, login, refreshes
from conftest import access_token_for

SESSIONS = "/api/v1/auth/sessions"
REFRESH = "/api/v1/auth/token/refresh"

pytestmark = pytest.mark.django_db


def sessions_of(access: str) -> list[dict]:
    response = bearer(access).get(SESSIONS)
    assert response.status_code == 200, response.json()
    return response.json()


def test_each_login_is_a_session_and_the_callers_is_marked_current(user):
    phone = login(user.username, HTTP_USER_AGENT="Phone/1.0")
    laptop = login(user.username, HTTP_USER_AGENT="Laptop/2.0")
    listed = sessions_of(laptop["access"])
    assert {(s["user_agent"], s["current"]) for s in listed} == {("Phone/1.0", False), ("Laptop/2.0", True)}
    assert set(listed[0]) == {"id", "created_at", "last_used_at", "user_agent", "current"}
    assert [s["current"] for s in sessions_of(phone["access"]) if s["user_agent"] == "Phone/1.0"] == [True]


def test_a_refresh_continues_the_same_session(user):
    pair = login(user.username)
    (before,) = sessions_of(pair["access"])
    rotated = APIClient().post(REFRESH, {"refresh": pair["refresh"]}, format="json").json()
    (after,) = sessions_of(rotated["access"])
    assert after["id"] == before["id"] and after["current"]
    assert after["last_used_at"] >= before["last_used_at"]
    assert jwt.decode(rotated["refresh"], options={"verify_signature": False})["sid"] == before["id"]


def test_revoking_a_session_stops_its_refresh_token_only(user):
    stolen, mine = login(user.username), login(user.username)
    stolen_id = next(s["id"] for s in sessions_of(mine["access"]) if not s["current"])
    assert bearer(mine["access"]).delete(f"{SESSIONS}/{stolen_id}").status_code == 204
    assert refreshes(stolen["refresh"]) == 401
    assert [s["current"] for s in sessions_of(mine["access"])] == [True]
    assert refreshes(mine["refresh"]) == 200


def test_revoking_after_a_refresh_stops_the_rotated_token(user):
    """The rotated-to token belongs to the session too: revoking after a refresh stops the new token."""
    stolen, mine = login(user.username), login(user.username)
    stolen_id = next(s["id"] for s in sessions_of(mine["access"]) if not s["current"])
    rotated = APIClient().post(REFRESH, {"refresh": stolen["refresh"]}, format="json").json()
    assert bearer(mine["access"]).delete(f"{SESSIONS}/{stolen_id}").status_code == 204
    assert refreshes(rotated["refresh"]) == 401


def test_another_users_session_is_404_and_stays_signed_in(user, user_make):
    mallory = login(user_make("mallory").username)
    victim = login(user.username)
    (victims_session,) = sessions_of(victim["access"])
    response = bearer(mallory["access"]).delete(f"{SESSIONS}/{victims_session['id']}")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert refreshes(victim["refresh"]) == 200
    assert all(s["id"] != victims_session["id"] for s in sessions_of(mallory["access"]))


def test_an_unknown_or_already_revoked_session_is_404(user):
    pair = login(user.username)
    login(user.username)
    assert bearer(pair["access"]).delete(f"{SESSIONS}/{uuid.uuid4()}").status_code == 404
    other_id = next(s["id"] for s in sessions_of(pair["access"]) if not s["current"])
    assert bearer(pair["access"]).delete(f"{SESSIONS}/{other_id}").status_code == 204
    assert bearer(pair["access"]).delete(f"{SESSIONS}/{other_id}").status_code == 404


def test_logout_ends_the_session(user):
    pair, other = login(user.username), login(user.username)
    response = bearer(pair["access"]).post("/api/v1/auth/logout", {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 204
    assert [s["current"] for s in sessions_of(other["access"])] == [True]


def test_a_refresh_token_from_before_sessions_starts_one_when_rotated(user):
    legacy = RefreshToken.for_user(user)  # no "sid" claim
    rotated = APIClient().post(REFRESH, {"refresh": str(legacy)}, format="json").json()
    (session,) = sessions_of(rotated["access"])
    assert session["current"]
    assert Session.objects.get(id=session["id"]).user_id == user.id


def test_sessions_need_a_bearer_token(client):
    assert client.get(SESSIONS).status_code == 401
    assert client.delete(f"{SESSIONS}/{uuid.uuid4()}").status_code == 401


def test_an_access_token_without_a_session_lists_none_as_current(user):
    login(user.username)
    assert [s["current"] for s in sessions_of(access_token_for(user))] == [False]


def test_a_refresh_token_of_an_ended_session_is_refused_even_if_not_blacklisted(user):
    """Rotation checks the session itself, not only the blacklist."""
    pair = login(user.username)
    Session.objects.filter(user=user).update(revoked_at=timezone.now())
    response = APIClient().post(REFRESH, {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "token_not_valid"
