"""The strand measure (issue 14's demo hair): soft truth away from the body, recovered share."""

from __future__ import annotations

import numpy as np

from vfxmatte.evaluation.strands import strand_recovery, strand_region


def test_strand_recovery_counts_only_soft_truth_away_from_the_body():
    truth = np.zeros((40, 40), np.float32)
    truth[:, :10] = 1  # the body
    truth[:, 11] = 0.5  # its anti-aliased rim, within the gap: not a strand
    truth[5:35, 20] = 0.4  # a strand
    region = strand_region(truth)
    assert region[:, 20][5:35].all() and not region[:, 11].any()
    pred = truth.copy()
    pred[5:35, 20] = 0.1  # a quarter of the strand back
    pred[:, 30] = 1  # alpha where the truth has none does not count
    assert abs(strand_recovery(pred, truth) - 0.25) < 1e-6
    assert strand_recovery(truth, truth) == 1.0
