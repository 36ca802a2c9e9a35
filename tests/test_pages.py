"""The pages for readers (issue 23, "A page people can read"): `/` shows a browser the
crisis at a glance, every figure, dispute and timeline entry exactly as the API answers
them; API clients still get JSON; a disputed figure has its own URL, an embed and oEmbed."""

from __future__ import annotations

from collections.abc import Iterator
from html import escape
from typing import Any
from urllib.parse import urlsplit

import pytest

from service.settings import Settings
from tests.apiclient import CRISIS, Client, Item, ok, problem, serve, walk
from tests.pagereading import Shown, read_page

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
FIGURE_LISTS = ("/v1/casualties", "/v1/arrests", "/v1/deployments")


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[Client]:
    with serve(settings) as client:
        yield client


def html(client: Client, path: str, status: int = 200, **headers: str) -> Any:
    response = client.get(path, headers={**BROWSER, **headers})
    assert response.status_code == status, (path, response.text[-500:])
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    return response


@pytest.fixture(scope="module")
def landing(client: Client) -> Shown:
    return read_page(html(client, "/").text)


def figures_of_the_api(client: Client) -> dict[str, int]:
    return {
        fact["id"]: fact["figure"]["count"]
        for path in FIGURE_LISTS
        for fact in walk(client, path, crisis=CRISIS)
        if fact["figure"] is not None
    }


def disputes_of_the_api(client: Client) -> dict[str, list[tuple[str, int]]]:
    return {
        d["key"]: [(v["fact_id"], v["figure"]["count"]) for v in d["values"]]
        for d in walk(client, "/v1/disputes", crisis=CRISIS)
    }


class TestLandingPage:
    def test_a_browser_gets_the_crisis_at_a_glance(self, client: Client) -> None:
        response = html(client, "/")
        crisis = ok(client, f"/v1/crises/{CRISIS}")
        assert f"<h1>{crisis['name']}</h1>" in response.text
        assert "Accept" in response.headers["vary"]
        assert read_page(response.text).language == "en"

    def test_every_figure_is_the_apis(self, client: Client, landing: Shown) -> None:
        expected = figures_of_the_api(client)
        assert expected
        shown = {fact: n for fact, n in landing.figures.items() if fact in expected}
        assert shown == expected
        # each headline figure can be linked to
        keys = {f["quantity_key"] or f["id"] for p in FIGURE_LISTS for f in walk(client, p)}
        assert {f"figure-{k}" for k in landing.headline_keys} <= landing.ids
        assert set(landing.headline_keys) <= keys

    def test_disputed_figures_side_by_side(self, client: Client, landing: Shown) -> None:
        expected = disputes_of_the_api(client)
        assert expected and landing.disputes == expected
        assert {f"dispute-{key}" for key in expected} <= landing.ids

    def test_the_timeline_is_the_apis(self, client: Client, landing: Shown) -> None:
        timeline = walk(client, "/v1/timeline", crisis=CRISIS, undated="true")
        expected = [fact["id"] for fact in timeline]
        assert expected and landing.timeline == expected
        # a fact its source does not date stands at its article's date, marked so
        undated = [fact["id"] for fact in timeline if fact["date"] is None]
        assert undated and landing.undated == undated
        assert {f"fact-{fact}" for fact in expected} <= landing.ids

    def test_quotes_carry_their_sources_language(self, client: Client, landing: Shown) -> None:
        languages = {s["id"]: s["language"] for s in walk(client, "/v1/sources")}
        assert landing.quotes
        for language, cited in landing.quotes:
            assert language == languages[cited.rsplit("/", 1)[1]], cited
        assert {"fr", "en"} <= {language for language, _ in landing.quotes}

    def test_no_script_and_a_strict_policy(self, client: Client, landing: Shown) -> None:
        response = html(client, "/")
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy
        assert "frame-ancestors 'none'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert landing.scripts == 0
        sheets = [href for rel, href in landing.links if rel == "stylesheet"]
        assert sheets
        for href in sheets:
            sheet = client.get(href or "")
            assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/css")

    def test_links_to_the_json_behind_each_part(self, client: Client) -> None:
        text = html(client, "/").text
        for url in (
            f"/v1/crises/{CRISIS}",
            f"/v1/disputes?crisis={CRISIS}",
            f"/v1/timeline?crisis={CRISIS}&undated=true",
            f"/v1/casualties?crisis={CRISIS}",
        ):
            assert f'href="{escape(url)}"' in text
            ok(client, url)

    @pytest.mark.parametrize("accept", ["application/json", "*/*", None])
    def test_an_api_client_gets_json(self, client: Client, accept: str | None) -> None:
        """curl sends `*/*`: it is an API client, as one sending no Accept is."""
        headers = {} if accept is None else {"Accept": accept}
        response = client.get("/", headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert "Accept" in response.headers["vary"]
        links = response.json()["links"]
        for name, url in links.items():
            if "{" not in url:
                assert client.get(url).status_code == 200, name

    def test_a_shared_link_with_tracking_parameters_opens(self, client: Client) -> None:
        """Pages ignore query strings: `?utm_source=` on a shared link is not an error."""
        assert read_page(html(client, "/?utm_source=newsletter").text).figures

    def test_the_host_check_still_applies(self, client: Client) -> None:
        response = client.get("/", headers={**BROWSER, "Host": "evil.example"})
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"


class TestDisputedFigure:
    def test_each_has_a_page_of_its_own(self, client: Client) -> None:
        for key, sides in disputes_of_the_api(client).items():
            response = html(client, f"/crises/{CRISIS}/disputes/{key}")
            shown = read_page(response.text)
            assert shown.disputes == {key: sides}
            assert shown.language == "en"
            discovery = [h for rel, h in shown.links if rel == "alternate"]
            assert len(discovery) == 1 and "/oembed?" in (discovery[0] or "")

    def test_its_embed_may_be_framed_by_any_site(self, client: Client) -> None:
        key = next(iter(disputes_of_the_api(client)))
        response = html(client, f"/crises/{CRISIS}/disputes/{key}/embed")
        assert "frame-ancestors *" in response.headers["content-security-policy"]
        assert read_page(response.text).disputes == {key: disputes_of_the_api(client)[key]}
        page = html(client, f"/crises/{CRISIS}/disputes/{key}")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def page_url(key: str) -> str:
    return f"http://testserver.local/crises/{CRISIS}/disputes/{key}"


class TestOEmbed:
    def test_a_disputed_figures_page_is_embedded(self, client: Client) -> None:
        key = next(iter(disputes_of_the_api(client)))
        answer = ok(client, "/oembed", url=page_url(key), format="json")
        assert answer["type"] == "rich" and answer["version"] == "1.0"
        assert answer["provider_name"] and answer["title"]
        assert isinstance(answer["width"], int) and isinstance(answer["height"], int)
        src = answer["html"].split('src="', 1)[1].split('"', 1)[0]
        assert src == page_url(key) + "/embed"
        assert read_page(html(client, urlsplit(src).path).text).disputes

    def test_the_discovery_link_answers(self, client: Client) -> None:
        key = next(iter(disputes_of_the_api(client)))
        shown = read_page(html(client, f"/crises/{CRISIS}/disputes/{key}").text)
        href = next(h for rel, h in shown.links if rel == "alternate") or ""
        parts = urlsplit(href)
        assert client.get(f"{parts.path}?{parts.query}").json()["type"] == "rich"

    def test_maxwidth_and_a_consumers_own_parameters(self, client: Client) -> None:
        """WordPress adds `dnt=1`: oEmbed lets a provider ignore what it does not know."""
        key = next(iter(disputes_of_the_api(client)))
        answer = ok(client, "/oembed", url=page_url(key), maxwidth="300", maxheight="200", dnt="1")
        assert (answer["width"], answer["height"]) == (300, 200)
        assert 'width="300"' in answer["html"] and 'height="200"' in answer["html"]

    @pytest.mark.parametrize(
        ("params", "status", "name"),
        [
            ({}, 400, "url"),
            ({"url": ""}, 400, "url"),
            ({"url": page_url("killed.police"), "maxwidth": "0"}, 400, "maxwidth"),
            ({"url": page_url("killed.police"), "maxheight": "tall"}, 400, "maxheight"),
            ({"url": page_url("killed.police"), "format": "xml"}, 501, None),
            ({"url": "http://elsewhere.example/crises/x/disputes/y"}, 404, None),
            ({"url": "http://testserver.local/docs"}, 404, None),
            ({"url": page_url("no.such-key")}, 404, None),
        ],
    )
    def test_bad_input_is_a_problem(
        self, client: Client, params: dict[str, str], status: int, name: str | None
    ) -> None:
        body = problem(client, "/oembed", status, **params)
        if name is not None:
            assert name in {p["name"] for p in body["invalid_params"]}


class TestNotFound:
    """An unknown crisis or figure: a page saying so to a browser, problem+json to the rest."""

    @pytest.mark.parametrize(
        "path",
        [
            "/crises/no-such-crisis",
            f"/crises/{CRISIS}/disputes/no.such-key",
            f"/crises/{CRISIS}/disputes/no.such-key/embed",
            "/crises/no-such-crisis/disputes/killed.police",
        ],
    )
    def test_html_for_browsers_problem_for_clients(self, client: Client, path: str) -> None:
        page = html(client, path, status=404)
        assert read_page(page.text).language == "en" and "<h1>Not found</h1>" in page.text
        body: Item = problem(client, path, 404)
        assert body["instance"] == path
