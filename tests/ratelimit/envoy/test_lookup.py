"""Which limit applies, and under which stats key: digest cases C1-C17 and W1-W9, plus the
share_threshold and value_to_metric rules, run through the decider as Envoy would see them."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.ratelimit.envoy.accounting import Code, DescriptorStatus
from services.ratelimit.envoy.config import ConfigFile, RateLimitConfig, load_config
from services.ratelimit.envoy.counters import MemoryCounterStore
from services.ratelimit.envoy.decision import RateLimitDecider
from services.ratelimit.envoy.lookup import find_limit
from services.ratelimit.envoy.request import Descriptor, Override
from services.ratelimit.envoy.rules import UINT32_MAX, RateLimit, Unit
from services.ratelimit.envoy.stats import EnvoyStats, RuleStat

from .harness import CountingStore, FakeClock, config_from, descriptor, make_decider, request

DOMAIN = "test-domain"


def fixture_config(config_dir: Path, name: str) -> RateLimitConfig:
    return load_config([ConfigFile(name, (config_dir / name).read_text())])


class Checker:
    """Decides single-descriptor requests and reads the resulting stats."""

    def __init__(self, config: RateLimitConfig, stats: EnvoyStats, clock: FakeClock) -> None:
        self.store = CountingStore(MemoryCounterStore(clock))
        self.stats = stats
        self.decider: RateLimitDecider = make_decider(config, self.store, stats, clock)

    async def status(self, *pairs: tuple[str, str], domain: str = DOMAIN) -> DescriptorStatus:
        return await self.status_of(descriptor(*pairs), domain=domain)

    async def status_of(self, item: Descriptor, domain: str = DOMAIN) -> DescriptorStatus:
        decision = await self.decider.decide(request(domain, item))
        assert len(decision.statuses) == 1
        return decision.statuses[0]

    def total_hits(self, stats_key: str) -> int:
        return self.stats.rule_hits(stats_key, RuleStat.TOTAL_HITS)


@pytest.fixture
def basic(config_dir: Path, stats: EnvoyStats, clock: FakeClock) -> Checker:
    return Checker(fixture_config(config_dir, "basic_config.yaml"), stats, clock)


@pytest.fixture
def wildcard(config_dir: Path, stats: EnvoyStats, clock: FakeClock) -> Checker:
    return Checker(fixture_config(config_dir, "wildcard.yaml"), stats, clock)


def assert_no_limit(status: DescriptorStatus) -> None:
    assert status == DescriptorStatus(Code.OK, None, 0, None)


async def test_c01_unknown_domain_has_no_limit_and_counts_domain_not_found(
    basic: Checker,
) -> None:
    assert_no_limit(await basic.status(("key1", "value1"), domain="foo_domain"))
    assert basic.stats.count("domain_not_found", {"domain": "foo_domain"}) == 1
    assert basic.store.batches == []


async def test_c02_value_without_a_node_has_no_limit(basic: Checker) -> None:
    assert_no_limit(await basic.status(("key1", "something")))


async def test_c03_placeholder_node_has_no_limit(basic: Checker) -> None:
    assert_no_limit(await basic.status(("key1", "value1")))


async def test_c04_key_only_leaf(basic: Checker) -> None:
    status = await basic.status(("key1", "value1"), ("subkey1", "something"))
    assert status.current_limit == RateLimit(5, Unit.SECOND)
    assert basic.total_hits("test-domain.key1_value1.subkey1") == 1


async def test_c05_value_leaf_beats_key_only_leaf(basic: Checker) -> None:
    status = await basic.status(("key1", "value1"), ("subkey1", "subvalue1"))
    assert status.current_limit == RateLimit(10, Unit.SECOND)
    assert basic.total_hits("test-domain.key1_value1.subkey1_subvalue1") == 1


async def test_c06_key_only_top_level(basic: Checker) -> None:
    status = await basic.status(("key2", "something"))
    assert status.current_limit == RateLimit(20, Unit.MINUTE)
    assert basic.total_hits("test-domain.key2") == 1


async def test_c07_value_beats_key_only_top_level(basic: Checker) -> None:
    status = await basic.status(("key2", "value2"))
    assert status.current_limit == RateLimit(30, Unit.MINUTE)
    assert basic.total_hits("test-domain.key2_value2") == 1


async def test_c08_value_without_limit_is_whitelisted(basic: Checker) -> None:
    assert_no_limit(await basic.status(("key2", "value3")))
    assert basic.total_hits("test-domain.key2") == 0


async def test_c09_request_deeper_than_config_has_no_limit(basic: Checker) -> None:
    assert_no_limit(await basic.status(("key2", "value2"), ("subkey", "subvalue")))


async def test_c10_unmatched_second_level_has_no_limit(basic: Checker) -> None:
    assert_no_limit(await basic.status(("key5", "value5"), ("subkey5", "subvalue")))


async def test_c11_intermediate_node_limit_applies_to_a_shorter_request(basic: Checker) -> None:
    status = await basic.status(("key5", "value5"))
    assert status.current_limit == RateLimit(15, Unit.DAY)


async def test_c12_limit_without_name(basic: Checker) -> None:
    status = await basic.status(("key3", "foo"))
    assert status.current_limit == RateLimit(1, Unit.HOUR, "")
    assert basic.total_hits("test-domain.key3") == 1


async def test_c13_named_limit_echoes_its_name(basic: Checker) -> None:
    status = await basic.status(("key4", "foo"))
    assert status.current_limit == RateLimit(1, Unit.DAY, "key4_rate_limit")


async def test_c14_unlimited_never_touches_the_store(basic: Checker) -> None:
    status = await basic.status(("key6", "foo"))
    assert status == DescriptorStatus(Code.OK, None, UINT32_MAX, None)
    assert basic.store.batches == []
    assert basic.total_hits("test-domain.key6") == 0


async def test_c15_detailed_metric_uses_runtime_values(basic: Checker) -> None:
    status = await basic.status(("key7", "unspecified_value"))
    assert status.current_limit == RateLimit(70, Unit.MINUTE)
    assert basic.total_hits("test-domain.key7_unspecified_value") == 1
    assert basic.total_hits("test-domain.key7") == 0


async def test_c16_request_override_bypasses_the_tree(basic: Checker) -> None:
    item = descriptor(("key1", "value1"), ("subkey1", "something"), override=Override(10, Unit.DAY))
    status = await basic.status_of(item)
    assert status.current_limit == RateLimit(10, Unit.DAY)
    assert basic.total_hits("test-domain.key1_value1.subkey1_something") == 1


async def test_c17_other_override_keeps_accumulating_the_same_stats(basic: Checker) -> None:
    pairs = (("key1", "value1"), ("subkey1", "something"))
    await basic.status_of(descriptor(*pairs, override=Override(10, Unit.DAY)))
    status = await basic.status_of(descriptor(*pairs, override=Override(42, Unit.HOUR)))
    assert status.current_limit == RateLimit(42, Unit.HOUR)
    assert basic.total_hits("test-domain.key1_value1.subkey1_something") == 2


async def test_w01_values_matching_one_wildcard_share_the_stats_key_not_the_counter(
    wildcard: Checker,
) -> None:
    first = await wildcard.status(("wild", "foo1"))
    second = await wildcard.status(("wild", "foo2"))
    assert first.current_limit == second.current_limit == RateLimit(20, Unit.MINUTE)
    assert first.limit_remaining == second.limit_remaining == 19
    assert wildcard.total_hits("test-domain.wild_foo*") == 2
    keys = [batch[0].key for batch in wildcard.store.batches]
    assert keys == ["test-domain_wild_foo1_1200", "test-domain_wild_foo2_1200"]


async def test_w02_wildcard_prefix_must_match(wildcard: Checker) -> None:
    assert_no_limit(await wildcard.status(("wild", "bar")))


async def test_w03_exact_value_means_exact(wildcard: Checker) -> None:
    assert_no_limit(await wildcard.status(("noWild", "foo1")))


async def test_w04_key_only_node_takes_any_value(wildcard: Checker) -> None:
    first = await wildcard.status(("noVal", "foo1"))
    second = await wildcard.status(("noVal", "foo2"))
    assert first.current_limit == second.current_limit == RateLimit(20, Unit.MINUTE)
    assert wildcard.total_hits("test-domain.noVal") == 2


async def test_w05_nested_wildcard(wildcard: Checker) -> None:
    status = await wildcard.status(("nestedWild", "val1"), ("wild", "goo2"))
    assert status.current_limit == RateLimit(20, Unit.MINUTE)
    assert wildcard.total_hits("test-domain.nestedWild_val1.wild_goo*") == 1


@pytest.mark.parametrize("value", ["barab", "bar123b", "barb"])
async def test_w06_middle_wildcard_matches_any_run_including_none(
    wildcard: Checker, value: str
) -> None:
    status = await wildcard.status(("midWild", value))
    assert status.current_limit == RateLimit(20, Unit.MINUTE)
    assert wildcard.total_hits("test-domain.midWild_bar*b") == 1


@pytest.mark.parametrize("value", ["bara", "xbarb"])
async def test_w07_middle_wildcard_anchors_both_ends(wildcard: Checker, value: str) -> None:
    assert_no_limit(await wildcard.status(("midWild", value)))


@pytest.mark.parametrize("value", ["foo123bar456baz", "foobarbaz"])
async def test_w08_several_wildcards(wildcard: Checker, value: str) -> None:
    status = await wildcard.status(("multiWild", value))
    assert status.current_limit == RateLimit(10, Unit.MINUTE)
    assert wildcard.total_hits("test-domain.multiWild_foo*bar*baz") == 1


@pytest.mark.parametrize("value", ["foo123baz", "bar456baz"])
async def test_w09_several_wildcards_need_every_literal(wildcard: Checker, value: str) -> None:
    assert_no_limit(await wildcard.status(("multiWild", value)))


def share_root(config_dir: Path) -> RateLimitConfig:
    return fixture_config(config_dir, "share_threshold.yaml")


@pytest.mark.parametrize(
    ("pairs", "requests_per_unit", "stats_key", "shared"),
    [
        ((("files", "files/a.pdf"),), 100, "test-domain.files_files/*", ("files/*",)),
        (
            (("nested", "parent"), ("files", "nested/x")),
            200,
            "test-domain.nested_parent.files_nested/*",
            (None, "nested/*"),
        ),
        (
            (("files", "top/a"), ("files", "nested/b")),
            300,
            "test-domain.files_top/*.files_nested/*",
            ("top/*", "nested/*"),
        ),
        (
            (("route", "api/v1"), ("method", "GET")),
            60,
            "test-domain.route_api/*.method",
            ("api/*", None),
        ),
        (
            (("service", "svc/a"), ("endpoint", "e1")),
            80,
            "test-domain.service_svc/*.endpoint_e1",
            ("svc/*", None),
        ),
        (
            (("path", "path/p"), ("file", "file/f"), ("type", "pdf")),
            120,
            "test-domain.path_path/*.file_file/*.type",
            ("path/*", None, None),
        ),
        ((("file", "test1"),), 50, "test-domain.file_test1", (None,)),
        ((("file", "test2"),), 100, "test-domain.file_test*", ("test*",)),
        ((("midroute", "/api/x/v2"),), 80, "test-domain.midroute_/api*v2", ("/api*v2",)),
    ],
)
def test_share_threshold_fixture(
    config_dir: Path,
    pairs: tuple[tuple[str, str], ...],
    requests_per_unit: int,
    stats_key: str,
    shared: tuple[str | None, ...],
) -> None:
    root = share_root(config_dir).domain(DOMAIN)
    assert root is not None
    match = find_limit(root, DOMAIN, descriptor(*pairs))
    assert match is not None
    assert match.rule.limit is not None
    assert match.rule.limit.requests_per_unit == requests_per_unit
    assert match.stats_key == stats_key
    assert match.shared_values == shared


VALUE_TO_METRIC = """
domain: example10
descriptors:
  - key: route
    value_to_metric: true
    descriptors:
      - key: http_method
        value_to_metric: true
        descriptors:
          - key: subject_id
            rate_limit: {unit: minute, requests_per_unit: 60}
  - key: wild
    value: "a*"
    value_to_metric: true
    rate_limit: {unit: minute, requests_per_unit: 60}
  - key: tenant
    detailed_metric: true
    rate_limit: {unit: minute, requests_per_unit: 60}
"""


@pytest.mark.parametrize(
    ("pairs", "stats_key"),
    [
        (
            (("route", "api"), ("http_method", "GET"), ("subject_id", "123")),
            "example10.route_api.http_method_GET.subject_id",
        ),
        ((("wild", "abc"),), "example10.wild_abc"),
        ((("tenant", ""),), "example10.tenant_"),
    ],
)
def test_value_to_metric_and_detailed_metric_keys(
    pairs: tuple[tuple[str, str], ...], stats_key: str
) -> None:
    root = config_from(VALUE_TO_METRIC).domain("example10")
    assert root is not None
    match = find_limit(root, "example10", descriptor(*pairs))
    assert match is not None
    assert match.stats_key == stats_key


def test_wildcard_matches_key_and_value_separately() -> None:
    root = config_from(
        'domain: d\ndescriptors:\n  - {key: a_b, value: "c*", rate_limit: {unit: second}}\n'
    ).domain("d")
    assert root is not None
    assert find_limit(root, "d", descriptor(("a_b", "cx"))) is not None
    assert find_limit(root, "d", descriptor(("a", "b_cx"))) is None


def test_override_stats_key_drops_empty_values() -> None:
    root = config_from("domain: d\n").domain("d")
    assert root is not None
    match = find_limit(root, "d", descriptor(("k", ""), ("j", "v"), override=Override(1, 1)))
    assert match is not None
    assert match.stats_key == "d.k.j_v"
