"""Follows: the services, the API (PUT/DELETE /api/v1/users/<id>/follow/) and the profile's button."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from apps.user.services import follow, following_ids, follows, unfollow
from forum.errors import NotFound, ValidationFailed


@pytest.fixture
def alice(make_member: Callable[..., int]) -> int:
    return make_member()


@pytest.fixture
def bob(make_member: Callable[..., int]) -> int:
    return make_member()


def api(user_id: int | None) -> APIClient:
    client = APIClient()
    if user_id is not None:
        client.force_authenticate(get_user_model().objects.get(pk=user_id))
    return client


def test_follow_and_unfollow_are_idempotent_and_one_way(
    alice: int, bob: int, make_member: Callable[..., int], outbox: Callable[[str], list[Any]]
) -> None:
    carol = make_member()
    assert follow(user_id=alice, target_id=bob) is True
    assert follow(user_id=alice, target_id=bob) is False
    follow(user_id=alice, target_id=carol)
    assert follows(user_id=alice, target_id=bob) and not follows(user_id=bob, target_id=alice)
    assert following_ids(user_id=alice) == (bob, carol)
    assert outbox("user.followed") == [
        {"follower_id": alice, "target_id": bob},
        {"follower_id": alice, "target_id": carol},
    ]
    assert unfollow(user_id=alice, target_id=bob) is True
    assert unfollow(user_id=alice, target_id=bob) is False
    assert following_ids(user_id=alice) == (carol,)
    with pytest.raises(ValidationFailed):
        follow(user_id=alice, target_id=alice)
    with pytest.raises(NotFound):
        follow(user_id=alice, target_id=carol + 1000)
    assert not follows(user_id=alice, target_id=2**70)


def test_the_follow_api(alice: int, bob: int) -> None:
    url = f"/api/v1/users/{bob}/follow/"
    assert api(None).put(url).status_code == 401
    assert api(alice).put(url).json() == {"following": True}
    assert api(alice).put(url).json() == {"following": True}
    assert follows(user_id=alice, target_id=bob)
    assert api(alice).delete(url).json() == {"following": False}
    assert not follows(user_id=alice, target_id=bob)
    assert api(alice).put(f"/api/v1/users/{alice}/follow/").json()["error"]["code"] == "follow_self"
    assert api(alice).put(f"/api/v1/users/{bob + 1000}/follow/").status_code == 404


def test_the_profile_has_a_follow_button_and_a_message_button(alice: int, bob: int) -> None:
    browser = Client()
    browser.force_login(get_user_model().objects.get(pk=alice))
    page = browser.get(f"/members/{bob}/").content.decode()
    assert f'action="/members/{bob}/follow/"' in page and 'value="follow"' in page
    assert f'href="/dialogs/new/?to={bob}"' in page
    assert browser.post(f"/members/{bob}/follow/", {"action": "follow"}).status_code == 302
    assert follows(user_id=alice, target_id=bob)
    assert 'value="unfollow"' in browser.get(f"/members/{bob}/").content.decode()
    assert browser.post(f"/members/{bob}/follow/", {"action": "unfollow"}).status_code == 302
    assert not follows(user_id=alice, target_id=bob)
    # Not on one's own profile, and not for guests.
    assert f"/members/{alice}/follow/" not in browser.get(f"/members/{alice}/").content.decode()
    assert "/follow/" not in Client().get(f"/members/{bob}/").content.decode()
    assert Client().post(f"/members/{bob}/follow/").status_code == 302  # to sign in
