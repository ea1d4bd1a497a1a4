"""One mailbox, one key: what each provider ignores is folded, nothing else."""

from __future__ import annotations

import pytest

from engine.identity.emails import canonical_email

SAME: list[tuple[str, str]] = [
    ("lina@gmail.com", "LiNa@Gmail.com"),
    ("lina@gmail.com", "li.na@gmail.com"),
    ("lina@gmail.com", "l.i.n.a@gmail.com"),
    ("lina@gmail.com", "lina+trial99@gmail.com"),
    ("lina@gmail.com", "Li.Na+red.packet@googlemail.com"),
    ("mama@outlook.com", "mama+farm1@outlook.com"),
    ("mama@hotmail.com", "Mama+2@Hotmail.com"),
    ("12345678@qq.com", "12345678@QQ.COM"),
    ("lina2020@163.com", "LiNa2020@163.com"),
    ("mama@126.com", " mama@126.com "),
    ("lina@foxmail.com", "LINA@foxmail.com"),
    ("lina@sina.com", "lina@sina.com."),
]

DIFFERENT: list[tuple[str, str]] = [
    ("li.na@outlook.com", "lina@outlook.com"),  # Microsoft keeps dots
    ("li.na@qq.com", "lina@qq.com"),  # QQ Mail: dots are part of an English account name
    ("lina+1@qq.com", "lina@qq.com"),  # no documented sub-addressing at Tencent
    ("lina+1@163.com", "lina@163.com"),  # nor at NetEase
    ("lina@163.com", "lina@126.com"),  # two NetEase domains, two mailboxes
    ("lina@qq.com", "lina@foxmail.com"),  # foxmail names are chosen apart from qq names
    ("lina@gmail.com", "lina@gmail.co"),
    ("li.na@icloud.com", "lina@icloud.com"),
]


@pytest.mark.parametrize(("left", "right"), SAME)
def test_one_mailbox_typed_two_ways_is_one_email(left: str, right: str) -> None:
    assert canonical_email(left) == canonical_email(right)


@pytest.mark.parametrize(("left", "right"), DIFFERENT)
def test_two_mailboxes_stay_two(left: str, right: str) -> None:
    assert canonical_email(left) != canonical_email(right)


def test_googlemail_is_gmail() -> None:
    assert canonical_email("Li.Na+x@GoogleMail.com") == "lina@gmail.com"


@pytest.mark.parametrize("bad", ["lina", "lina@", "@qq.com", "a@b@c.com", "a@-qq.com", "a@qq", "+tag@gmail.com"])
def test_what_is_no_email_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="email"):
        canonical_email(bad)
