"""Shared test settings.

Every model in the unit tests is tiny, and a 2-core CI machine runs them while other processes
compete for the cores: one intra-op thread is as fast as two for these sizes and never suffers
from oversubscribed thread pools. It also keeps runs that are compared bit for bit in one
configuration.
"""

from __future__ import annotations

import torch

torch.set_num_threads(1)
