"""App Store Connect on 127.0.0.1, for developer responses: POST /v1/customerReviewResponses and GET /v1/apps.

It checks the bearer token as Apple does: an ES256 signature by the registered key (`kid`), the issuer,
`aud` appstoreconnect-v1, an expiry no more than 20 minutes after `iat`; then the JSON:API body (type,
responseBody, the review relationship). Errors are JSON:API `errors[]` with id, status, code, title and
detail; 201 answers carry the response with state PENDING_PUBLISH.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from werkzeug import Request, Response

UNAUTHORIZED = ("401", "NOT_AUTHORIZED", "Authentication credentials are missing or invalid.",
                "Provide a properly configured and signed bearer token, and make sure that it has not expired. "
                "Learn more about Generating Tokens for API Requests https://developer.apple.com/go/?id=api-generating-tokens")


def new_p8() -> tuple[str, Any]:
    """A fresh App Store Connect style key: the .p8 text (PKCS#8 PEM, P-256) and its public key."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return pem, key.public_key()


@dataclass
class AppStoreConnectFake:
    key_id: str
    issuer_id: str
    public_key: Any
    reviews: set[str] = field(default_factory=set)  # customerReviews ids that exist
    locked: set[str] = field(default_factory=set)  # reviews whose response cannot be replaced now (409)
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)  # review id -> response resource
    posted: list[dict[str, Any]] = field(default_factory=list)  # the bodies of accepted POSTs
    tokens_seen: list[dict[str, Any]] = field(default_factory=list)  # (header + claims) of every good token
    fail_next: list[tuple[str, int, dict[str, Any], dict[str, str]]] = field(default_factory=list)

    @staticmethod
    def errors(status: str, code: str, title: str, detail: str, headers: dict[str, str] | None = None) -> Response:
        body = {"errors": [{"id": str(uuid.uuid4()), "status": status, "code": code, "title": title,
                            "detail": detail}]}
        return Response(json.dumps(body), status=int(status), content_type="application/json", headers=headers)

    def _authorised(self, request: Request) -> bool:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return False
        token = auth[7:]
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != "ES256" or header.get("kid") != self.key_id:
                return False
            claims = jwt.decode(token, self.public_key, algorithms=["ES256"], audience="appstoreconnect-v1",
                                issuer=self.issuer_id, options={"require": ["exp", "iss", "aud"]})
        except jwt.PyJWTError:
            return False
        if claims["exp"] - claims.get("iat", claims["exp"]) > 20 * 60:
            return False  # Apple: tokens that expire more than 20 minutes into the future are rejected
        self.tokens_seen.append({**header, **claims, "token": token})
        return True

    def __call__(self, request: Request) -> Response:
        for i, (path, status, body, headers) in enumerate(self.fail_next):
            if request.path == path:
                del self.fail_next[i]
                return Response(json.dumps(body), status=status, content_type="application/json", headers=headers)
        if not self._authorised(request):
            return self.errors(*UNAUTHORIZED)
        if request.path == "/v1/apps" and request.method == "GET":
            return Response(json.dumps({"data": [{"type": "apps", "id": "1459876543",
                                                  "attributes": {"bundleId": "com.brightwave.app"}}],
                                        "links": {"self": "https://api.appstoreconnect.apple.com/v1/apps"}}),
                            content_type="application/json")
        if request.path == "/v1/customerReviewResponses" and request.method == "POST":
            return self._respond(request)
        return self.errors("404", "NOT_FOUND", "The specified resource does not exist",
                           f"The path provided does not match a defined resource type. {request.path}")

    def _respond(self, request: Request) -> Response:
        if request.mimetype != "application/json":
            return self.errors("415", "UNSUPPORTED_MEDIA_TYPE", "The request entity has an unsupported media type.",
                               "Only application/json is accepted.")
        body = request.get_json(silent=True) or {}
        data = body.get("data") or {}
        text = (data.get("attributes") or {}).get("responseBody")
        review = (((data.get("relationships") or {}).get("review") or {}).get("data") or {})
        if data.get("type") != "customerReviewResponses":
            return self.errors("409", "ENTITY_ERROR.INCLUDED.INVALID_TYPE", "The provided entity is invalid",
                               "The type of the entity is not 'customerReviewResponses'.")
        if not isinstance(text, str) or not text:
            return self.errors("409", "ENTITY_ERROR.ATTRIBUTE.REQUIRED", "The provided entity is missing a required "
                               "field", "You must provide a value for the attribute 'responseBody' with this request")
        if len(text.encode("utf-16-le")) // 2 > 5970:
            return self.errors("409", "ENTITY_ERROR.ATTRIBUTE.INVALID.TOO_LONG", "The provided entity includes an "
                               "attribute with a value that is too long", "The value for 'responseBody' is too long.")
        if review.get("type") != "customerReviews" or not review.get("id"):
            return self.errors("409", "ENTITY_ERROR.RELATIONSHIP.REQUIRED", "The provided entity is missing a "
                               "required relationship", "You must provide a value for the relationship 'review'")
        rid = review["id"]
        if rid not in self.reviews:
            return self.errors("404", "NOT_FOUND", "The specified resource does not exist",
                               f"There is no resource of type 'customerReviews' with id '{rid}'")
        if rid in self.locked:
            return self.errors("409", "STATE_ERROR", "The request cannot be fulfilled because of the state of "
                               "another resource.", "A response to this review already exists and is waiting "
                               "to be published.")
        resource = self.responses.get(rid) or {"type": "customerReviewResponses", "id": str(uuid.uuid4())}
        resource["attributes"] = {"responseBody": text, "state": "PENDING_PUBLISH",
                                  "lastModifiedDate": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
                                  + "-08:00"}
        resource["relationships"] = {"review": {"links": {
            "self": f"https://api.appstoreconnect.apple.com/v1/customerReviewResponses/{resource['id']}/"
                    "relationships/review"}}}
        resource["links"] = {"self": f"https://api.appstoreconnect.apple.com/v1/customerReviewResponses/"
                                     f"{resource['id']}"}
        self.responses[rid] = resource
        self.posted.append(body)
        return Response(json.dumps({"data": resource, "links": resource["links"]}), status=201,
                        content_type="application/json")
