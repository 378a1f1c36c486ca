import asyncio

import httpx
from fastapi import FastAPI, Response

# --8<-- [start:check]
from examples.gateway import make_gateway

origin = FastAPI()  # stands in for the upstream service
served = []


@origin.get("/articles/{slug}")
def article(slug: str) -> Response:
    served.append(slug)
    return Response(f"article {slug}", headers={"Cache-Control": "max-age=60", "ETag": '"a1"'})


async def main() -> None:
    gateway = make_gateway("http://origin", transport=httpx.ASGITransport(app=origin))
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        first = await client.get("/articles/caching")
        assert first.headers["cache-status"] == "gateway; fwd=uri-miss; stored"
        second = await client.get("/articles/caching")
        assert second.headers["cache-status"].startswith("gateway; hit")
        assert second.text == "article caching" and served == ["caching"]
        revalidated = await client.get("/articles/caching", headers={"If-None-Match": '"a1"'})
        assert revalidated.status_code == 304


asyncio.run(main())
# --8<-- [end:check]
