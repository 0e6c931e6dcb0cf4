"""Speed-limit change on a set of edges (e.g. traffic calming, or lifting a bottleneck)."""

from __future__ import annotations

from dataclasses import dataclass

from trafficsim.measures.base import CaseDraft, Measure, NetIndex
from trafficsim.measures.registry import register
from trafficsim.spec import Fields


@register
@dataclass(frozen=True)
class SpeedLimit(Measure):
    """Set the legal speed of every lane of the given edges.

    Parameters
    ----------
    edges
        Edge ids.
    speed_kmh
        New speed limit. [km/h]
    """

    kind = "speed_limit"
    edges: tuple[str, ...]
    speed_kmh: float

    @classmethod
    def parse(cls, f: Fields) -> SpeedLimit:
        """A speed limit from its plan table; problems go to ``f.issues``."""
        edges = f.str_list("edges")
        if isinstance(edges, tuple) and not edges:
            f.error("edges", "is empty; expected at least one edge id")
        speed = f.float("speed_kmh", lo=0.0, lo_open=True, hi=250.0, unit=" km/h")
        return cls(edges=tuple(edges or ()), speed_kmh=float(speed or 0.0))

    def check(self, net: NetIndex, begin_s: float, end_s: float) -> list[tuple[str, str]]:
        """Edges missing from the network, as (field, message)."""
        return [(f"edges[{i}]", msg) for i, e in enumerate(self.edges)
                if (msg := net.missing_edge(e)) is not None]

    def apply(self, draft: CaseDraft) -> None:
        """Set the edges' speed to ``speed_kmh`` (SUMO takes m/s) by patching the network."""
        speed_m_s = self.speed_kmh / 3.6
        draft.edge_patches.extend(f'<edge id="{e}" speed="{speed_m_s:.4f}"/>' for e in self.edges)
