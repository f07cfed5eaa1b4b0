"""MRNet triage service: knee MRI ACL-tear scoring with exact per-slice attention."""

__version__ = "0.1.0"
