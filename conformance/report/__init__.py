"""The three forms of a finished run: terminal text for people, JUnit XML and JSON for CI.

All three are rendered from one :class:`conformance.model.Report` through one
:class:`conformance.mask.Masker`, so a secret masked in one form is masked in all of them.
"""

from conformance.report.jsonreport import render_json, write_json
from conformance.report.junit import render_junit, write_junit
from conformance.report.text import render_text

__all__ = ["render_json", "render_junit", "render_text", "write_json", "write_junit"]
