"""The webhook signature: HMAC-SHA256 over the timestamp and the body, as a receiver checks it.

    Partnercenter-Signature: t=1763800000,v1=<hex of HMAC-SHA256(secret, "1763800000." + body)>

A receiver recomputes v1 from the raw body with its secret, compares in constant time, and
refuses a timestamp older than a few minutes (a replay).
"""

import hashlib
import hmac

SIGNATURE_HEADER = "Partnercenter-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"
