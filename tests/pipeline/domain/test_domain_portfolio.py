from pipeline.domain.portfolio import CatalogApp, Overlap, ShadowApp, overlap, shadow_it


def users(prefix: str, n: int) -> set[str]:
    return {f"{prefix}{i}" for i in range(n)}


CATALOG = {
    "teams": CatalogApp(sanctioned=True, capability="chat"),
    "slack": CatalogApp(sanctioned=True, capability="chat"),
    "zoom": CatalogApp(sanctioned=True, capability="video"),
    "whatsapp": CatalogApp(sanctioned=False, capability="chat"),
}


def test_shadow_it_needs_k_active_users() -> None:
    active = {
        "teams": 50,
        "whatsapp": 6,  # in the catalog but not sanctioned
        "dropbox": 5,  # not in the catalog
        "notion": 4,  # under k
    }
    assert shadow_it(active, CATALOG) == [
        ShadowApp("whatsapp", 6, in_catalog=True),
        ShadowApp("dropbox", 5, in_catalog=False),
    ]


def test_overlap_of_sanctioned_apps_in_one_department() -> None:
    active = {
        ("teams", "sales"): users("a", 4),
        ("slack", "sales"): users("b", 2),
        ("teams", "hr"): users("c", 9),  # only one chat app in hr
        ("whatsapp", "hr"): users("d", 9),  # unsanctioned: not overlap
        ("zoom", "sales"): users("a", 4),  # other capability
        ("slack", "it"): set(),  # no active users
        ("teams", "it"): users("e", 3),
    }
    assert overlap(active, CATALOG) == [Overlap("chat", "sales", ("slack", "teams"), 6)]


def test_overlap_under_k_users_is_suppressed() -> None:
    active = {("teams", "sales"): users("a", 2), ("slack", "sales"): users("a", 2)}
    assert overlap(active, CATALOG) == []
    assert overlap(active, CATALOG, k=2) == [Overlap("chat", "sales", ("slack", "teams"), 2)]
