"""``nea-sd report``: the essay's hypotheses H1–H8 over the uncertainty, with flip frontiers
and how sequencing changes the feedback loops (see :mod:`nea_sd.report.core`)."""

from nea_sd.report.build import REGISTRY, Report, build
from nea_sd.report.core import Context, Section, Verdict, decide

__all__ = ["REGISTRY", "Context", "Report", "Section", "Verdict", "build", "decide"]
