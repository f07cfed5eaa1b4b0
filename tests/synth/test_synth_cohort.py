"""Label plans and case parameters, sampled without rendering."""

from __future__ import annotations

import dataclasses

import numpy as np

from service.synth.cohort import PREVALENCE, sample_plans
from service.synth.sampling import sample_case


def test_train_tear_counts_are_exact_and_abnormal_is_about_80_percent() -> None:
    plans = sample_plans(1130, PREVALENCE["train"], np.random.default_rng(0))
    assert sum(p.acl_tear for p in plans) == round(0.18 * 1130)
    assert sum(p.meniscus_tear for p in plans) == round(0.33 * 1130)
    abnormal = [p.acl_tear or p.meniscus_tear or p.effusion or p.bone_bruise for p in plans]
    assert abs(np.mean(abnormal) - 0.80) < 0.01


def test_valid_has_mrnet_valid_prevalence() -> None:
    plans = sample_plans(120, PREVALENCE["valid"], np.random.default_rng(0))
    assert sum(p.acl_tear for p in plans) == 54
    assert sum(p.meniscus_tear for p in plans) == round(0.43 * 120)


def test_positives_are_shuffled_and_differ_between_seeds() -> None:
    first = [p.acl_tear for p in sample_plans(200, PREVALENCE["train"], np.random.default_rng(1))]
    second = [p.acl_tear for p in sample_plans(200, PREVALENCE["train"], np.random.default_rng(2))]
    assert first != second
    assert 0 < first.index(True) < 150 and not all(first[:36])


def test_effusion_and_bone_bruise_do_not_give_the_acl_label_away() -> None:
    plans = sample_plans(2000, PREVALENCE["train"], np.random.default_rng(3))
    torn = [p for p in plans if p.acl_tear]
    intact = [p for p in plans if not p.acl_tear]
    for finding in ("effusion", "bone_bruise"):
        with_tear = np.mean([getattr(p, finding) for p in torn])
        without = np.mean([getattr(p, finding) for p in intact])
        assert with_tear > without > 0.2 and with_tear < 0.85, finding
    assert all(not p.acl_degeneration for p in torn)
    assert 0.08 < np.mean([p.acl_degeneration for p in intact]) < 0.22


def test_case_labels_follow_the_plan_on_a_larger_sample() -> None:
    plans = sample_plans(500, PREVALENCE["train"], np.random.default_rng(4))
    labels = [sample_case(n, plan, seed=4).labels for n, plan in enumerate(plans)]
    assert sum(label["acl"] for label in labels) == 90  # round(0.18 * 500)
    assert abs(np.mean([label["abnormal"] for label in labels]) - 0.80) < 0.01


def test_a_case_depends_on_seed_and_number_not_on_its_findings() -> None:
    healthy, sick = sample_plans(2, PREVALENCE["train"], np.random.default_rng(0))
    sick = dataclasses.replace(sick, acl_tear=True, meniscus_tear=True, effusion=True)
    a = sample_case(9, healthy, seed=1)
    b = sample_case(9, sick, seed=1)
    assert a.anatomy == b.anatomy and a.pose == b.pose and a.noise_seed == b.noise_seed
    assert a == sample_case(9, healthy, seed=1)
    assert sample_case(9, healthy, seed=2).anatomy != a.anatomy
    assert sample_case(10, healthy, seed=1).anatomy != a.anatomy
