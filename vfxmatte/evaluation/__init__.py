"""Evaluation on datasets with ground-truth alpha (`vfxmatte eval`).

dataset.py finds and validates samples in the HIM2K-like layout of DESIGN.md; methods.py runs an
engine or a baseline on one sample; runner.py loops, scores with vfxmatte.metrics and writes the
predictions; report.py writes results.json and the table; sheet.py the contact sheet.
"""

SHEET_ROWS = 6  # rows (samples, or frames with --noref) in a contact sheet unless asked otherwise
