"""The sources' tables: real datasets' id maps and metadata (``tables/``) and the simulator's truth (``truth/``).

Meanings are those of :mod:`trustecon.datasets._common` and :mod:`trustecon.datasets.ciao`, and of
:mod:`trustecon.simulate.run` (:func:`~trustecon.simulate.run.truth_tables`),
:mod:`trustecon.simulate.population` and :mod:`trustecon.simulate.attacks`; docs/simulator.md tells the
simulated world's dynamics.
"""

from __future__ import annotations

from trustecon.report.tables._spec import TableSpec, cols

__all__ = ["SOURCE_TABLES"]

DATASETS = "Real datasets (trustecon load)"
TRUTH = "Simulator ground truth (trustecon simulate)"
SIMULATE = ("trustecon simulate WS",)
SIM_WRITER = ("trustecon.simulate.run.simulate",)
TRUTH_DEF = "trustecon.simulate.run.truth_tables"

SOURCE_TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "id_map", "tables", DATASETS, ("trustecon load NAME WS",), ("trustecon.datasets._common.append_events",),
        "trustecon.datasets._common", row="one source id of one entity", key=("source", "entity", "source_id"),
        when="after trustecon load",
        description="How each source id was mapped to the event log's int64 id, so results can be read back in "
        "the source's own ids; a load replaces its own dataset's rows.",
        columns=cols(
            ("source", "the dataset's name"),
            ("entity", "what the id names: user, trust_user, creator, content, product or order"),
            ("source_id", "the id in the source's files, as text"),
            ("id", "the id in the event log"),
        ),
    ),
    TableSpec(
        "ciao_rating_meta", "tables", DATASETS, ("trustecon load ciao WS",),
        ("trustecon.datasets._common.append_events",), "trustecon.datasets.ciao",
        row="one stored Ciao rate event", key=("event_id",), when="after trustecon load ciao",
        description="Ciao's category and helpfulness, which have no column in the event log, from the same "
        "ratings.csv row as the event.",
        columns=cols(
            ("event_id", "the rate event's event_id, ciao:rate:{user}:{product}:{time}"),
            "user_id",
            ("product_id", "the product reviewed (the event's content_id)"),
            ("category_id", "Ciao's category of the product"),
            ("helpfulness", "Ciao's helpfulness of the review"),
        ),
    ),
    TableSpec(
        "latent_trust", "truth", TRUTH, SIMULATE, SIM_WRITER, TRUTH_DEF,
        row="one user → creator pair that ever met", key=("user_id", "creator_id"),
        description="The simulator's latent trust at the end of the run: what the trust models try to recover.",
        columns=cols(
            "user_id", "creator_id",
            ("trust", "latent trust T in [0, 1] at the end of the run"),
            ("follows", "the user follows the creator at the end of the run"),
        ),
    ),
    TableSpec(
        "accounts", "truth", TRUTH, SIMULATE, SIM_WRITER, TRUTH_DEF,
        row="one person (real user, creator or fake account)", key=("user_id",),
        description="Every account with its latent attributes; fake accounts made by attacks come after the real "
        "users.",
        columns=cols(
            "user_id",
            ("is_fake", "a fake account made by an attack"),
            ("attack", "kind:attack_id of the account's attack (null for a real user)"),
            ("is_creator", "one of the first `creators` persons, who publish"),
            ("activity", "daily probability of being active (null for a fake account)"),
            ("trust_propensity", "prior trust in a creator never met, in (0, 1) (null for a fake account)"),
            ("price_sensitivity", "> 0: demand falls as exp(−s · price / price_median) (null for a fake account)"),
        ),
    ),
    TableSpec(
        "creators", "truth", TRUTH, SIMULATE, SIM_WRITER, TRUTH_DEF,
        row="one creator", key=("creator_id",),
        description="Every creator's latent attributes.",
        columns=cols(
            "creator_id",
            ("category", "the creator's content category"),
            ("quality", "content quality in (0, 1)"),
            ("honesty", "in (0, 1): how truthfully the creator sells"),
            ("dishonest", "made dishonest by an attack (honesty set low)"),
            ("sells", "sells in live rooms"),
            ("publish_rate", "short videos per day (Poisson mean)"),
            ("live_days_per_week", "the number of weekdays on the creator's live schedule"),
            ("fame", "> 0, Pareto: how widely followed at the start"),
            ("followers_end", "followers at the end of the run"),
        ),
    ),
    TableSpec(
        "products", "truth", TRUTH, SIMULATE, SIM_WRITER, TRUTH_DEF,
        row="one product", key=("product_id",),
        description="Every product's brand, category, price and latent quality.",
        columns=cols(
            "product_id", "brand_id",
            ("category", "the brand's category"),
            ("price", "in the workspace currency"),
            ("quality", "product quality in (0, 1), independent of price"),
        ),
    ),
    TableSpec(
        "attacks", "truth", TRUTH, SIMULATE, SIM_WRITER, TRUTH_DEF,
        row="one attack", key=("attack_id",),
        description="Every attack on the trust economy ([attacks] in the config; none by default).",
        columns=cols(
            "attack_id",
            ("kind", "sybil, brushing, fake_refund or dishonest"),
            ("target_creator", "the creator attacked"),
            ("members", "the user_ids of its fake accounts (empty for dishonest)"),
            ("n_members", "the number of fake accounts"),
            ("events", "events the attack made"),
        ),
    ),
)
