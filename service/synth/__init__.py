"""Synthetic knee MRI exams in the MRNet-v1.0 layout, with exact ground truth.

Each case is one 3-D knee phantom (analytic shapes in millimetres, posed per
case) resliced into sagittal, coronal and axial series with their own contrast,
so the planes agree. `generate_dataset` writes a data set; `sample_case` and
`render_case` make single cases, for tests and experiments.
"""

from service.synth.cohort import PREVALENCE, CasePlan, Prevalence, sample_plans
from service.synth.generate import SynthSummary, generate_dataset
from service.synth.params import CaseParams
from service.synth.render import RenderedCase, render_case
from service.synth.sampling import sample_case

__all__ = [
    "PREVALENCE",
    "CaseParams",
    "CasePlan",
    "Prevalence",
    "RenderedCase",
    "SynthSummary",
    "generate_dataset",
    "render_case",
    "sample_case",
    "sample_plans",
]
