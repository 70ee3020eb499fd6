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
# MAFAB Communications (the 0801 range, licensed 2022) sells airtime through the aggregators
# but has no data bundles on them yet.
AIRTIME_NETWORKS = (*NETWORKS, ("mafab", "MAFAB"))
DISCOS = (
    ("ikeja-electric", "Ikeja Electric (IKEDC)"),
    ("eko-electric", "Eko Electric (EKEDC)"),
    ("abuja-electric", "Abuja Electric (AEDC)"),
    ("ibadan-electric", "Ibadan Electric (IBEDC)"),
    ("portharcourt-electric", "Port Harcourt Electric (PHED)"),
)
METER_TYPES = (("prepaid", "Prepaid"), ("postpaid", "Postpaid"))

SERVICES: dict[str, Service] = {
    **{sid: Service(sid, "airtime", name, 5_000, 5_000_000) for sid, name in AIRTIME_NETWORKS},
    **{
        f"{sid}-data": Service(f"{sid}-data", "data", name, 1, 10_000_000) for sid, name in NETWORKS
    },
    **{sid: Service(sid, "electricity", name, 100_000, 50_000_000) for sid, name in DISCOS},
}


def service(service_id: str, category: str) -> Service | None:
    found = SERVICES.get(service_id)
    return found if found is not None and found.category == category else None


# Which network issued a Nigerian mobile number, by its first four digits (local form, 0803…).
# Numbers are portable, so this is a default: a customer may name the network instead.
PREFIXES: dict[str, str] = {
    **dict.fromkeys(
        ("0703", "0704", "0706", "0707", "0803", "0806", "0810", "0813", "0814", "0816",
         "0903", "0906", "0913", "0916"),
        "mtn",
    ),
    **dict.fromkeys(
        ("0701", "0708", "0802", "0808", "0812", "0901", "0902", "0904", "0907", "0911",
         "0912"),
        "airtel",
    ),
    **dict.fromkeys(("0705", "0805", "0807", "0811", "0815", "0905", "0915"), "glo"),
    **dict.fromkeys(("0809", "0817", "0818", "0908", "0909"), "etisalat"),
    "0801": "mafab",
}  # fmt: skip


def network_for(local_number: str) -> str | None:
    """The network a number in local form (0803…) started on, or None for a prefix we don't know."""
    return PREFIXES.get(local_number[:4])
