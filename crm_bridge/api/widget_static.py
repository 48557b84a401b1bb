"""``/widget.js`` and the demo shop pages that embed it.

The bundle is built by ``make setup`` (``devtools/frontend.py``) into ``CSA_BRIDGE_WIDGET_DIR``
(default ``var/widget``). Host pages load it on every visit, so it is cached briefly
(5 minutes) and revalidated with its ETag rather than kept for a year under a fixed name.
The demo pages (``/`` and ``/demo/signed``) show a fictional shop with the widget; the second
one signs the demo customer 王芳 (``demo-user-1``) the way a shop's backend would.
"""

from __future__ import annotations

import hashlib
import html
import json
import time
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request, status
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from crm_bridge.core.config import Settings
from crm_bridge.core.security import sign_site_user

WIDGET_CACHE = "public, max-age=300, must-revalidate"
NOT_BUILT = (
    "// The chat widget is not built yet: run `make setup` (needs Node.js and npm),\n"
    "// then reload. The bridge serves CSA_BRIDGE_WIDGET_DIR (default var/widget).\n"
)
DEMO_USER = "demo-user-1"

DEMO_PAGE = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
  body {{ font-family: system-ui, sans-serif; margin: 0; color: #222; background: #faf7f2; }}
  header {{ background: #d9363e; color: #fff; padding: 1rem 2rem; }}
  main {{ max-width: 56rem; margin: 2rem auto; padding: 0 1rem; }}
  .products {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(12rem, 1fr));
              gap: 1rem; }}
  .card {{ background: #fff; border-radius: 8px; padding: 1rem; box-shadow: 0 1px 3px #0002; }}
  /* Deliberately hostile host styles: the widget must not be affected by them. */
  button {{ background: lime !important; font-size: 30px !important; }}
  div {{ letter-spacing: 2px; }}
</style>
</head>
<body>
<header><h1>{title}</h1><p>{tagline}</p></header>
<main>
  <p>{intro}</p>
  <div class="products">
    <div class="card"><h3>青花瓷茶杯 · Porcelain cup</h3><p>¥129</p></div>
    <div class="card"><h3>真丝围巾 · Silk scarf</h3><p>¥399</p></div>
    <div class="card"><h3>竹编收纳篮 · Bamboo basket</h3><p>¥89</p></div>
  </div>
  <p><a href="/">{home}</a> · <a href="/demo/signed">{signed}</a></p>
</main>
<script>window.CSAWidgetConfig = {config};</script>
<script src="/widget.js" async></script>
</body>
</html>
"""


DEMO_CLAIM_SECONDS = 3600


def _demo_config(settings: Settings, request: Request, user: str | None) -> str:
    config: dict[str, object] = {
        "rasaUrl": settings.RASA_PUBLIC_URL or settings.RASA_URL,
        "bridgeUrl": str(request.base_url).rstrip("/"),
        "siteId": "demo-shop" if user is None else "demo-shop-signed",
        "language": "auto",
        "themeColor": "#d9363e",
        "position": "right",
    }
    if user is not None:
        # As a shop's server would: a claim that expires in an hour, signed at page render.
        expires = int(time.time()) + DEMO_CLAIM_SECONDS
        config["user"] = {
            "id": user,
            "expires": expires,
            "hash": sign_site_user(settings.site_identity_secret, user, expires),
        }
    # JSON inside <script>: no "</" can close the tag early.
    return json.dumps(config, ensure_ascii=False).replace("</", "<\\/")


def widget_router(settings: Settings) -> APIRouter:
    """Routes for the widget bundle and the demo pages."""
    router = APIRouter(include_in_schema=False)

    @router.get("/widget.js")
    def widget_js(request: Request) -> Response:
        bundle: Path = settings.widget_dir / "widget.js"
        if not bundle.is_file():
            return PlainTextResponse(
                NOT_BUILT,
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                media_type="text/javascript",
            )
        body = bundle.read_bytes()
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        headers = {"Cache-Control": WIDGET_CACHE, "ETag": etag, "X-Content-Type-Options": "nosniff"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
        return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)

    def page(request: Request, user: str | None) -> HTMLResponse:
        signed = user is not None
        text = {
            "lang": "zh-CN",
            "title": "小店 · Little Shop" + (" — 已登录 王芳" if signed else ""),
            "tagline": "手作好物 · Handmade goods",
            "intro": (
                "演示：已登录的顾客王芳（钻石会员），可以问“我的订单到哪了”或“我的积分”。"
                " Demo: signed in as 王芳 (diamond member); ask about your order or points."
                if signed
                else "有问题？点右下角的客服。 Questions? Open the chat in the corner."
            ),
            "home": "首页 · Home",
            "signed": "已登录演示 · Signed-in demo",
        }
        body = DEMO_PAGE.format(
            **{k: html.escape(v) for k, v in text.items()},
            config=_demo_config(settings, request, user),
        )
        return HTMLResponse(body, headers={"Cache-Control": "no-cache"})

    @router.get("/", response_class=HTMLResponse)
    def demo_home(request: Request) -> HTMLResponse:
        return page(request, None)

    @router.get("/demo/signed", response_class=HTMLResponse)
    def demo_signed(request: Request) -> HTMLResponse:
        return page(request, DEMO_USER)

    return router


def mount_widget(app: FastAPI, settings: Settings) -> None:
    """Serve ``/widget.js`` and the demo pages."""
    app.include_router(widget_router(settings))
