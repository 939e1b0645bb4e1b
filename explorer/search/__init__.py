"""Design search: find designs that beat a starting design on this host, under a latency budget.

    result = run_search(start, profile, SearchRequest(objective="params", seconds=60, top=5, seed=0))

Screens with the calibrated latency model (explorer.predict), measures the best for real (explorer.measure.timing's
verdict, fresh workers). See explorer.search.run for the steps.
"""

from .objectives import OBJECTIVES
from .run import SearchRequest, run_search
from .space import FIELDS, SearchSpace

__all__ = ["FIELDS", "OBJECTIVES", "SearchRequest", "SearchSpace", "run_search"]
