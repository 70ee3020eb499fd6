"""What customers can pay for: networks and distributors, with our limits per product."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    service_id: str  # the aggregator's serviceID (VTpass naming)
    category: str
    name: str
    min_amount: int  # kobo
    max_amount: int


NETWORKS = (("mtn", "MTN"), ("airtel", "Airtel"), ("glo", "Glo"), ("etisalat", "9mobile"))
DISCOS = (
    ("ikeja-electric", "Ikeja Electric (IKEDC)"),
    ("eko-electric", "Eko Electric (EKEDC)"),
    ("abuja-electric", "Abuja Electric (AEDC)"),
    ("ibadan-electric", "Ibadan Electric (IBEDC)"),
    ("portharcourt-electric", "Port Harcourt Electric (PHED)"),
)
METER_TYPES = (("prepaid", "Prepaid"), ("postpaid", "Postpaid"))

SERVICES: dict[str, Service] = {
    **{sid: Service(sid, "airtime", name, 5_000, 5_000_000) for sid, name in NETWORKS},
    **{
        f"{sid}-data": Service(f"{sid}-data", "data", name, 1, 10_000_000) for sid, name in NETWORKS
    },
    **{sid: Service(sid, "electricity", name, 100_000, 50_000_000) for sid, name in DISCOS},
}


def service(service_id: str, category: str) -> Service | None:
    found = SERVICES.get(service_id)
    return found if found is not None and found.category == category else None
