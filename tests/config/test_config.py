"""relay.toml loading: the documented example loads, and every mistake names its key and fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from paths import ROOT

from relay.cli import login
from relay.config.load import (
    HOME_TOKEN_ENV,
    BoosterConfig,
    DigestConfig,
    MetricsConfig,
    StreamsConfig,
    UrlProblem,
    base_url,
    is_loopback,
    load_config,
    url_problem,
)
from relay.config.rules import default_rules
from relay.core.digest import Schedule
from relay.errors import ConfigError

MINIMAL = """
hashtags = ["TherapistsConnect"]
[home]
url = "https://therapists.example"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "relay.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return info.value


class TestExample:
    def test_documented_example_loads(self) -> None:
        """The relay.toml shipped at the top of the repository is valid and means what it says."""
        config = load_config(ROOT / "relay.toml")
        assert config.hashtags == ("TherapistsConnect",)
        assert config.home.url == "https://therapists.example"
        assert config.home.token_file == ROOT / "home.token"
        assert config.home.token_env == HOME_TOKEN_ENV
        assert [s.url for s in config.sources] == ["https://mastodon.example"]
        assert config.sources[0].token_env == "RELAY_SOURCE_MASTODON_EXAMPLE_TOKEN"
        assert config.moderation.moderators == ("alice@therapists.example",)
        assert config.moderation.mode == "review"
        assert config.state == ROOT / "relay.sqlite3"
        assert config.rules == default_rules(["TherapistsConnect"], mode="review")
        assert (config.booster, config.streams, config.metrics) == (
            BoosterConfig(),
            StreamsConfig(),
            MetricsConfig(),
        )

    def test_minimal_config_gets_defaults(self, tmp_path: Path) -> None:
        """Only hashtags and the home URL are required; the rest has safe defaults."""
        config = load_config(write(tmp_path, MINIMAL))
        assert config.sources == ()
        assert config.moderation.mode == "review"
        assert config.moderation.moderators == ()
        assert config.home.token_file is None
        assert config.state == tmp_path / "relay.sqlite3"
        assert config.log_level == "info"

    def test_loopback_http_is_accepted(self, tmp_path: Path) -> None:
        """http:// is fine for a loopback sandbox, with its port kept."""
        config = load_config(
            write(tmp_path, MINIMAL.replace("https://therapists.example", "http://127.0.0.1:8123"))
        )
        assert config.home.url == "http://127.0.0.1:8123"
        assert config.home.host == "127.0.0.1:8123"

    def test_handles_are_normalised(self, tmp_path: Path) -> None:
        """A leading @ is dropped and the handle is lower-cased, so matching is exact later."""
        text = MINIMAL + '[moderation]\nmoderators = ["@Alice@Therapists.Example"]\n'
        assert load_config(write(tmp_path, text)).moderation.moderators == ("alice@therapists.example",)


class TestErrors:
    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing file is named, with the -c fix."""
        with pytest.raises(ConfigError) as info:
            load_config(tmp_path / "nope.toml")
        assert "nope.toml" in info.value.message
        assert "-c" in (info.value.fix or "")

    def test_bad_toml_syntax(self, tmp_path: Path) -> None:
        """A TOML syntax error gives the line from the parser."""
        err = error_for(tmp_path, 'hashtags = ["x"]\n[home]\nurl = https://a.example\n')
        assert "not valid TOML" in err.message
        assert "line 3" in err.message

    def test_missing_hashtags(self, tmp_path: Path) -> None:
        """Without hashtags the error shows the line to add."""
        err = error_for(tmp_path, '[home]\nurl = "https://a.example"\n')
        assert "hashtags is missing" in err.message
        assert 'hashtags = ["TherapistsConnect"]' in (err.fix or "")

    def test_hashtag_with_hash_sign(self, tmp_path: Path) -> None:
        """A '#' in a hashtag name is refused with the bare name as the fix."""
        err = error_for(tmp_path, MINIMAL.replace('"TherapistsConnect"', '"#TherapistsConnect"'))
        assert "hashtags" in err.message
        assert '"TherapistsConnect" without' in (err.fix or "")

    def test_wrong_type(self, tmp_path: Path) -> None:
        """A string where a list is expected names the key, the value and the expected type."""
        err = error_for(tmp_path, MINIMAL.replace('["TherapistsConnect"]', '"TherapistsConnect"'))
        assert err.message == "relay.toml: hashtags = 'TherapistsConnect': expected a list of strings"

    def test_transport_defaults_to_auto_and_takes_each_method(self, tmp_path: Path) -> None:
        """`transport` is per instance, in [home] and in each [[sources]] entry."""
        assert load_config(write(tmp_path, MINIMAL)).home.transport == "auto"
        text = (
            MINIMAL + 'transport = "websocket"\n[[sources]]\nurl = "https://b.example"\ntransport = "rest"\n'
        )
        config = load_config(write(tmp_path, text))
        assert (config.home.transport, config.sources[0].transport) == ("websocket", "rest")

    def test_unknown_transport_names_the_key_and_the_choices(self, tmp_path: Path) -> None:
        """A transport the relay does not speak stops it with the choices to pick from."""
        text = MINIMAL + '[[sources]]\nurl = "https://b.example"\ntransport = "grpc"\n'
        err = error_for(tmp_path, text)
        assert "sources[0].transport" in err.message
        assert "websocket" in err.message + (err.fix or "")

    def test_missing_home_url(self, tmp_path: Path) -> None:
        """The home instance's URL is required and the message says so."""
        err = error_for(tmp_path, 'hashtags = ["x"]\n[home]\ntoken_file = "t"\n')
        assert "home.url is missing" in err.message

    def test_plain_http_to_a_public_host_is_refused(self, tmp_path: Path) -> None:
        """Tokens never travel over plain http to anything but loopback."""
        err = error_for(tmp_path, MINIMAL.replace("https://", "http://"))
        assert "home.url" in err.message
        assert err.fix == 'write url = "https://therapists.example"'

    def test_url_with_a_path_is_refused(self, tmp_path: Path) -> None:
        """The base URL must not carry a path such as /api/v1."""
        err = error_for(tmp_path, MINIMAL.replace("therapists.example", "therapists.example/api/v1"))
        assert "without a path" in err.message

    def test_unknown_key_suggests_the_close_one(self, tmp_path: Path) -> None:
        """A typo is an error with a 'did you mean', never silently ignored."""
        err = error_for(tmp_path, MINIMAL + '[moderation]\nmoderator = ["a@b.example"]\n')
        assert "unknown key moderation.moderator" in err.message
        assert err.fix == "did you mean moderation.moderators?"

    def test_unknown_mode(self, tmp_path: Path) -> None:
        """mode accepts only review or open."""
        err = error_for(tmp_path, MINIMAL + '[moderation]\nmode = "auto"\n')
        assert err.message == 'relay.toml: moderation.mode = \'auto\': expected "review" or "open"'

    def test_bare_moderator_name_is_refused(self, tmp_path: Path) -> None:
        """A moderator without a domain is ambiguous across instances and refused."""
        err = error_for(tmp_path, MINIMAL + '[moderation]\nmoderators = ["alice"]\n')
        assert "moderation.moderators = 'alice'" in err.message
        assert "user@domain" in err.message

    def test_duplicate_source(self, tmp_path: Path) -> None:
        """Listing the home instance again as a source is refused."""
        err = error_for(tmp_path, MINIMAL + '[[sources]]\nurl = "https://therapists.example"\n')
        assert "already watched as home.url" in err.message

    def test_sources_must_be_an_array_of_tables(self, tmp_path: Path) -> None:
        """`[sources]` instead of `[[sources]]` gets the double-bracket fix."""
        err = error_for(tmp_path, MINIMAL + '[sources]\nurl = "https://m.example"\n')
        assert "[[sources]]" in err.message


class TestModerationKeys:
    def test_defaults(self, tmp_path: Path) -> None:
        """Without the keys the bot follows its moderators, digests after 60 s, expires after 7 days."""
        moderation = load_config(write(tmp_path, MINIMAL)).moderation
        assert moderation.dm_policy == "follow"
        assert moderation.digest_interval == 60.0
        assert moderation.hold_expiry_days == 7.0
        assert moderation.refusal_interval == 86400.0

    def test_documented_values_are_the_defaults(self) -> None:
        """relay.toml documents each [moderation] key with its default value."""
        moderation = load_config(ROOT / "relay.toml").moderation
        assert (moderation.dm_policy, moderation.digest_interval) == ("follow", 60.0)
        assert (moderation.hold_expiry_days, moderation.refusal_interval) == (7.0, 86400.0)

    def test_values_are_read(self, tmp_path: Path) -> None:
        """Each key is read, integers accepted where a number of seconds or days is expected."""
        text = MINIMAL + (
            '[moderation]\ndm_policy = "accept"\ndigest_interval = 0.5\n'
            "hold_expiry_days = 2\nrefusal_interval = 30\n"
        )
        moderation = load_config(write(tmp_path, text)).moderation
        assert moderation.dm_policy == "accept"
        assert moderation.digest_interval == 0.5
        assert moderation.hold_expiry_days == 2.0
        assert moderation.refusal_interval == 30.0

    def test_unknown_dm_policy(self, tmp_path: Path) -> None:
        """dm_policy accepts only follow, accept or leave, and says so."""
        err = error_for(tmp_path, MINIMAL + '[moderation]\ndm_policy = "open"\n')
        assert err.message == (
            'relay.toml: moderation.dm_policy = \'open\': expected "follow" or "accept" or "leave"'
        )

    def test_negative_interval_is_refused(self, tmp_path: Path) -> None:
        """A negative digest interval names the key and the minimum."""
        err = error_for(tmp_path, MINIMAL + "[moderation]\ndigest_interval = -1\n")
        assert "moderation.digest_interval = -1" in err.message
        assert "at least 0" in err.message

    def test_zero_expiry_is_refused(self, tmp_path: Path) -> None:
        """Held posts need some time for review: hold_expiry_days = 0 is refused."""
        err = error_for(tmp_path, MINIMAL + "[moderation]\nhold_expiry_days = 0\n")
        assert "moderation.hold_expiry_days" in err.message

    def test_silence_alert_is_off_unless_set(self, tmp_path: Path) -> None:
        """silence_alert_minutes defaults to 0 (off), as relay.toml documents; a fraction is kept."""
        assert load_config(write(tmp_path, MINIMAL)).moderation.silence_alert_minutes == 0.0
        assert load_config(ROOT / "relay.toml").moderation.silence_alert_minutes == 0.0
        text = MINIMAL + "[moderation]\nsilence_alert_minutes = 0.02\n"
        assert load_config(write(tmp_path, text)).moderation.silence_alert_minutes == 0.02
        text = MINIMAL + "[moderation]\nsilence_alert_minutes = 45\n"
        assert load_config(write(tmp_path, text)).moderation.silence_alert_minutes == 45.0

    def test_negative_silence_alert_is_refused(self, tmp_path: Path) -> None:
        """A negative silence_alert_minutes names the key and the minimum."""
        err = error_for(tmp_path, MINIMAL + "[moderation]\nsilence_alert_minutes = -5\n")
        assert "moderation.silence_alert_minutes = -5" in err.message
        assert "at least 0" in err.message

    def test_interval_must_be_a_number(self, tmp_path: Path) -> None:
        """A quoted number is a type error naming the key."""
        err = error_for(tmp_path, MINIMAL + '[moderation]\nrefusal_interval = "1h"\n')
        assert "moderation.refusal_interval = '1h'" in err.message


class TestDigestKeys:
    def test_off_by_default_on_monday_at_nine_utc(self, tmp_path: Path) -> None:
        """Without [digest] no digest is posted; the documented values are the defaults."""
        for config in (load_config(write(tmp_path, MINIMAL)), load_config(ROOT / "relay.toml")):
            assert config.digest == DigestConfig()
            assert (config.digest.enabled, config.digest.day, config.digest.hour) == (False, "mon", 9)
            assert (config.digest.timezone, config.digest.visibility) == ("UTC", "public")

    def test_values_are_read_into_a_schedule(self, tmp_path: Path) -> None:
        """day, hour and timezone make the schedule the digest runs on."""
        text = MINIMAL + (
            '[digest]\nenabled = true\nday = "fri"\nhour = 17\ntimezone = "America/New_York"\n'
            'visibility = "unlisted"\n'
        )
        digest = load_config(write(tmp_path, text)).digest
        assert digest.enabled
        assert digest.visibility == "unlisted"
        assert digest.schedule == Schedule(4, 17, ZoneInfo("America/New_York"))

    def test_unknown_time_zone_names_the_key_and_the_fix(self, tmp_path: Path) -> None:
        """A zone name the system does not know (or a path) is refused with where to find names."""
        for name in ("Europe/Londn", "../../etc/passwd", ""):
            err = error_for(tmp_path, MINIMAL + f'[digest]\ntimezone = "{name}"\n')
            assert err.message.startswith(f"relay.toml: digest.timezone = {name!r}: expected an IANA")
            assert err.fix is not None
            assert "timedatectl list-timezones" in err.fix

    def test_bad_day_and_hour_are_refused(self, tmp_path: Path) -> None:
        """day must be a short English day name; hour 0 to 23."""
        err = error_for(tmp_path, MINIMAL + '[digest]\nday = "Monday"\n')
        assert '"mon" or "tue"' in err.message
        err = error_for(tmp_path, MINIMAL + "[digest]\nhour = 24\n")
        assert "digest.hour = 24: expected a whole number from 0 to 23" in err.message
        err = error_for(tmp_path, MINIMAL + '[digest]\nvisibility = "direct"\n')
        assert "digest.visibility" in err.message

    def test_unknown_key_in_digest(self, tmp_path: Path) -> None:
        """A typo in [digest] is not a silent default."""
        err = error_for(tmp_path, MINIMAL + "[digest]\nenable = true\n")
        assert err.message == "relay.toml: unknown key digest.enable"
        assert err.fix == "did you mean digest.enabled?"


def test_is_loopback() -> None:
    """Loopback means localhost, 127.0.0.0/8 and ::1, nothing else."""
    assert is_loopback("localhost")
    assert is_loopback("127.0.0.1")
    assert is_loopback("127.8.0.3")
    assert is_loopback("::1")
    assert not is_loopback("10.0.0.1")
    assert not is_loopback("therapists.example")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://Therapists.Example", None),
        ("https://therapists.example:8443/", None),
        ("http://127.0.0.1:3000", None),
        ("http://localhost:3000", None),
        ("ftp://therapists.example", UrlProblem.NOT_A_URL),
        ("https://:443", UrlProblem.NOT_A_URL),
        ("https://therapists.example/api", UrlProblem.PATH),
        ("https://therapists.example/?x=1", UrlProblem.PATH),
        ("https://therapists.example/#top", UrlProblem.PATH),
        ("http://therapists.example", UrlProblem.PLAIN_HTTP),
    ],
)
def test_relay_toml_and_login_take_instance_urls_by_one_rule(
    tmp_path: Path, url: str, problem: UrlProblem | None
) -> None:
    """`url_problem` decides for relay.toml's `url` and `relay login --instance` alike (each words its
    own error); an accepted URL becomes the same base URL in both."""
    assert url_problem(urlsplit(url)) is problem
    text = MINIMAL.replace("https://therapists.example", url)
    if problem is None:
        assert load_config(write(tmp_path, text)).home.url == login.parse_instance(url).url
        assert login.parse_instance(url).url == base_url(urlsplit(url))
    else:
        error_for(tmp_path, text)
        with pytest.raises(ConfigError):
            login.parse_instance(url)


def test_cli_exits_2_naming_the_key(tmp_path: Path) -> None:
    """The real `relay` process turns a bad config into one line naming the key, and exit code 2."""
    path = write(tmp_path, MINIMAL + '[moderation]\nmode = "auto"\n')
    result = subprocess.run(
        [sys.executable, "-m", "relay", "--log-format", "json", "replay", "-c", str(path), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "moderation.mode" in result.stderr
    assert "Traceback" not in result.stderr


class TestAnchors:
    ANCHOR = '\n[[anchors]]\nurl = "https://therapists.example/@founder/109876543210"\n'

    def test_anchor_defaults(self, tmp_path: Path) -> None:
        """An anchor needs only its URL: direct replies, read every [streams] poll_interval."""
        config = load_config(write(tmp_path, MINIMAL + self.ANCHOR + "[streams]\npoll_interval = 30\n"))
        (anchor,) = config.anchors
        assert anchor.url == "https://therapists.example/@founder/109876543210"
        assert (anchor.replies, anchor.interval) == ("direct", 30.0)
        assert (anchor.host, anchor.base_url) == ("therapists.example", "https://therapists.example")

    def test_anchor_options(self, tmp_path: Path) -> None:
        """`replies = "thread"` and an own interval are taken."""
        text = MINIMAL + self.ANCHOR + 'replies = "thread"\ninterval = 300\n'
        (anchor,) = load_config(write(tmp_path, text)).anchors
        assert (anchor.replies, anchor.interval) == ("thread", 300.0)

    def test_no_anchors_by_default(self, tmp_path: Path) -> None:
        """Without [[anchors]] there are none (the shipped relay.toml only shows one, commented)."""
        assert load_config(write(tmp_path, MINIMAL)).anchors == ()
        assert load_config(ROOT / "relay.toml").anchors == ()

    @pytest.mark.parametrize(
        ("url", "expected", "fix"),
        [
            ("therapists.example/@founder/1", "a post's https:// URL", "the post's link"),
            ("https://therapists.example/@founder", "ending in its id", "Copy link to post"),
            ("https://therapists.example/", "ending in its id", "not a profile"),
            ("https://therapists.example/@founder/1?x=1", "ending in its id", "Copy link to post"),
            (
                "http://therapists.example/@founder/1",
                "https://",
                'url = "https://therapists.example/@founder/1"',
            ),
        ],
    )
    def test_bad_anchor_url(self, tmp_path: Path, url: str, expected: str, fix: str) -> None:
        """A URL that is not a post's link is refused, naming anchors[i].url and how to fix it."""
        err = error_for(tmp_path, MINIMAL + f'[[anchors]]\nurl = "{url}"\n')
        assert err.message.startswith("relay.toml: anchors[0].url = ")
        assert expected in err.message
        assert fix in (err.fix or "")

    def test_bad_replies_and_unknown_key(self, tmp_path: Path) -> None:
        """`replies` takes direct or thread; a typo is named with a suggestion."""
        err = error_for(tmp_path, MINIMAL + self.ANCHOR + 'replies = "all"\n')
        assert 'anchors[0].replies = \'all\': expected "direct" or "thread"' in err.message
        err = error_for(tmp_path, MINIMAL + self.ANCHOR + 'reply = "thread"\n')
        assert "unknown key anchors[0].reply" in err.message
        assert "anchors[0].replies" in (err.fix or "")

    def test_missing_url_and_duplicate(self, tmp_path: Path) -> None:
        """An anchor without a URL, or the same anchor twice, is refused."""
        err = error_for(tmp_path, MINIMAL + '[[anchors]]\nreplies = "direct"\n')
        assert "anchors[0].url is missing" in err.message
        err = error_for(tmp_path, MINIMAL + self.ANCHOR + self.ANCHOR)
        assert "anchors[1].url" in err.message
        assert "duplicate" in (err.fix or "")

    def test_bad_anchor_exits_2(self, tmp_path: Path) -> None:
        """`relay run` with a bad anchor stops with exit code 2 and the key on stderr."""
        path = write(tmp_path, MINIMAL + '[[anchors]]\nurl = "https://therapists.example/about"\n')
        done = subprocess.run(
            [sys.executable, "-m", "relay", "run", "-c", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2
        assert "anchors[0].url" in done.stderr
