"""The knowledge base: search and browse, read an article and its versions, write and publish.

Articles are Markdown written by staff and read by requesters, so the console never turns
them into HTML: kb_blocks only splits the text into headings, lists, code and paragraphs,
and the template prints each block escaped.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from controller.console.pages import Api, Me, form_lists, form_of, is_htmx, render, templates

router = APIRouter()
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")


def kb_blocks(markdown: str) -> list[dict[str, Any]]:
    """Markdown as plain blocks: {kind: heading|code|list|paragraph, ...}, text unescaped."""
    blocks: list[dict[str, Any]] = []
    lines = markdown.replace("\r\n", "\n").split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
        elif line.lstrip().startswith("```"):
            fences = [j for j in range(index + 1, len(lines)) if lines[j].startswith("```")]
            stop = fences[0] if fences else len(lines)  # an unclosed fence runs to the end
            blocks.append({"kind": "code", "text": "\n".join(lines[index + 1 : stop])})
            index = stop + 1
        elif heading := _HEADING.match(line):
            level = min(len(heading.group(1)) + 1, 6)  # the article's title is the page's h1
            blocks.append({"kind": "heading", "level": level, "text": heading.group(2)})
            index += 1
        else:
            chunk = []
            while index < len(lines) and lines[index].strip() and not _special(lines[index]):
                chunk.append(lines[index])
                index += 1
            blocks.append(_list_or_paragraph(chunk))
    return blocks


def _special(line: str) -> bool:
    return line.lstrip().startswith("```") or bool(_HEADING.match(line))


def _list_or_paragraph(chunk: list[str]) -> dict[str, Any]:
    for pattern, ordered in ((_BULLET, False), (_NUMBERED, True)):
        items = [m.group(1) for line in chunk if (m := pattern.match(line))]
        if len(items) == len(chunk):
            return {"kind": "list", "ordered": ordered, "items": items}
    return {"kind": "paragraph", "text": "\n".join(chunk)}


templates.env.filters["kb_blocks"] = kb_blocks


def _category_paths(categories: list[dict[str, Any]]) -> dict[int, str]:
    return {c["id"]: c["path"] for c in categories}


async def _categories(api: Api) -> list[dict[str, Any]]:
    return list((await api.get("/categories", limit=500))["items"])


@router.get("/kb", response_class=HTMLResponse)
async def kb_index(
    request: Request,
    api: Api,
    me: Me,
    q: str = "",
    state: str = "",
    tag: str = "",
    cursor: str = "",
) -> HTMLResponse:
    next_url = ""
    if q.strip():
        articles = (await api.get("/kb/search", q=q, limit=50))["items"]
    else:
        page = await api.get("/kb", state=state, tag=tag, cursor=cursor, limit=50)
        articles = page["items"]
        if page["next_cursor"]:
            query = {"state": state, "tag": tag, "cursor": page["next_cursor"]}
            next_url = "/kb?" + urlencode(query)
    return render(
        request,
        api,
        "kb.html",
        section="kb",
        q=q,
        state=state,
        tag=tag,
        articles=articles,
        categories=_category_paths(await _categories(api)),
        next_url=next_url,
    )


async def _editor(
    request: Request, api: Api, me: dict[str, Any], article: dict[str, Any] | None
) -> HTMLResponse:
    library = await api.get("/playbooks") if "runs:read" in me["permissions"] else []
    linked = (article or {}).get("playbooks", [])  # kept even if gone from the library
    return render(
        request,
        api,
        "kb_edit.html",
        section="kb",
        article=article,
        categories=await _categories(api),
        playbooks=sorted({p["name"] for p in library} | set(linked)),
    )


async def _article_from_form(request: Request) -> dict[str, Any]:
    form, lists = await form_of(request), await form_lists(request)
    category = form.get("category_id", "")
    return {
        "title": form.get("title", ""),
        "body": form.get("body", ""),
        "category_id": int(category) if category.isdigit() else None,
        "tags": [t.strip() for t in form.get("tags", "").split(",") if t.strip()],
        "playbooks": [p for p in lists.get("playbooks", []) if p],
    }


@router.get("/kb/new", response_class=HTMLResponse)
async def new_article_page(request: Request, api: Api, me: Me) -> HTMLResponse:
    return await _editor(request, api, me, None)


@router.post("/kb/new")
async def new_article(request: Request, api: Api, me: Me) -> Response:
    article = await api.post("/kb", await _article_from_form(request))
    return Response(status_code=204, headers={"HX-Redirect": f"/kb/{article['id']}"})


async def article_page(request: Request, api: Api, me: Me, article_id: int) -> HTMLResponse:
    article = await api.get(f"/kb/{article_id}")
    versions = []
    if "kb:write" in me["permissions"]:  # only writers may read old versions
        versions = (await api.get(f"/kb/{article_id}/versions", limit=50))["items"]
    categories = _category_paths(await _categories(api))
    return render(
        request,
        api,
        "_kb_article.html" if is_htmx(request) else "kb_article.html",
        section="kb",
        article=article,
        versions=versions,
        clear_alerts=is_htmx(request),
        category=categories.get(article["category_id"] or 0, ""),
    )


@router.get("/kb/{article_id}", response_class=HTMLResponse)
async def show_article(request: Request, api: Api, me: Me, article_id: int) -> HTMLResponse:
    return await article_page(request, api, me, article_id)


@router.get("/kb/{article_id}/edit", response_class=HTMLResponse)
async def edit_article_page(request: Request, api: Api, me: Me, article_id: int) -> HTMLResponse:
    return await _editor(request, api, me, await api.get(f"/kb/{article_id}"))


@router.post("/kb/{article_id}/edit")
async def edit_article(request: Request, api: Api, me: Me, article_id: int) -> Response:
    await api.patch(f"/kb/{article_id}", await _article_from_form(request))
    return Response(status_code=204, headers={"HX-Redirect": f"/kb/{article_id}"})


@router.post("/kb/{article_id}/publish", response_class=HTMLResponse)
async def publish(request: Request, api: Api, me: Me, article_id: int) -> HTMLResponse:
    await api.post(f"/kb/{article_id}/publish")
    return await article_page(request, api, me, article_id)


@router.post("/kb/{article_id}/unpublish", response_class=HTMLResponse)
async def unpublish(request: Request, api: Api, me: Me, article_id: int) -> HTMLResponse:
    await api.post(f"/kb/{article_id}/unpublish")
    return await article_page(request, api, me, article_id)
