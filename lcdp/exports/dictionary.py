"""The data products' data dictionary, in Korean and English: what each column means, its
unit and type, the names behind every code, and what ``suppressed`` means with the rules
behind it, read from the product's declaration and its ``DisclosureRules``.

One source for every place a consumer meets a product: the ``README.md`` and
``<product>.dictionary.json`` that ``lcdp export --out`` writes beside the files, the export
API's catalog (``catalog_entry``), Delta Sharing's table description and column comments
(``sharing_description``, ``sharing_schema``) and ``lcdp dictionary`` (``column_comment``).
"""

from __future__ import annotations

import json
from pathlib import Path

from lcdp.exports.disclosure import ALL, DisclosureRules
from lcdp.exports.product import UNITS, Product, ProductColumn

#: a contributor column of the rules → (Korean noun, Korean counter, English noun)
CONTRIBUTORS = {"cardholders": ("이용자(카드)", "명", "distinct cardholders"),
                "merchants": ("가맹점", "곳", "distinct merchants"),
                "businesses": ("사업체", "곳", "distinct businesses")}

SUPPRESSED = {
    "ko": "비공개(suppressed) 칸은 구분 열(월, 시군, 업종 등)과 이름만 남고 모든 값 열이 비어 있습니다. 값이 0이라는 "
          "뜻이 아니라, 개인이나 개별 가맹점·사업체를 알아볼 수 있는 칸(1차 비공개)이거나, 공개된 합계에서 빼서 그런 칸을 "
          "추정할 수 있게 하는 칸(2차 비공개)이라 공개하지 않는다는 뜻입니다.",
    "en": "A suppressed cell keeps its key (month, region, industry…) and names, and every measure is empty. It does "
          "not mean zero: the cell could single out a person, a merchant or a business (primary suppression), or "
          "would let one be worked out from the published totals (secondary suppression).",
}
MARGIN = {"ko": f"{ALL}: 그 열의 모든 값을 더한 합계 칸 (예: 시군 코드 {ALL} = 경기도 전체)",
          "en": f"{ALL}: the margin, every value of that column added up (sigun_cd {ALL}: all of Gyeonggi-do)"}


def _pair(ko: str, en: str) -> dict[str, str]:
    return {"ko": ko, "en": en}


def rules(declared: Product) -> list[dict[str, str]]:
    """The product's disclosure rules in words, from its ``DisclosureRules``."""
    r: DisclosureRules = declared.rules
    out = []
    for column, minimum in r.min_contributors.items():
        ko, counter, en = CONTRIBUTORS.get(column, (column, "", column))
        out.append(_pair(f"1차 비공개: {ko} {minimum}{counter} 미만인 칸",
                         f"primary suppression: a cell with fewer than {minimum} {en}"))
    if r.max_top_share is not None:
        out.append(_pair(f"1차 비공개: 한 가맹점이 칸 금액의 {r.max_top_share:.0%}를 넘게 차지하는 칸",
                         f"primary suppression: a cell where one merchant holds more than {r.max_top_share:.0%} of "
                         "the amount"))
    out.append(_pair(f"2차 비공개: 공개된 값과 합계로 계산해도 1차 비공개 칸의 값을 실제 값의 ±{r.protection:.0%} "
                     "안으로 좁힐 수 없도록 다른 칸을 함께 비공개하고, 매 빌드마다 선형계획 감사로 확인합니다",
                     f"secondary suppression: more cells are hidden so that no primarily suppressed cell can be "
                     f"narrowed down to within ±{r.protection:.0%} of its value from the published cells and "
                     "totals, which an audit by linear programming checks at every build"))
    return out


def suppression(declared: Product) -> dict:
    """What ``suppressed`` means, the rules in words, and their parameters as the code holds them."""
    return {"meaning": SUPPRESSED, "rules": rules(declared), "parameters": declared.rules.model_dump(mode="json")}


def _role(declared: Product, column: ProductColumn) -> str:
    if column in declared.dimensions:
        return "dimension"
    if column in declared.measures:
        return "measure"
    return "status" if column.name == "status" else "name" if column.names else "attribute"


def columns(declared: Product) -> list[dict]:
    """Every column: name, type, role, titles, descriptions, unit (ko, en) and, for a name
    column, the coded column it names."""
    return [{"name": c.name, "type": c.type, "role": _role(declared, c), "title": _pair(c.title_ko, c.title_en),
             "description": _pair(c.description_ko, c.description), "unit": UNITS.get(c.unit) if c.unit else None,
             "names": c.names, "null": c.null, "coded": bool(c.codes)} for c in declared.columns]


def codes(declared: Product) -> dict[str, dict[str, dict[str, str]]]:
    """Coded column → code → its name (ko, en), the margin ``ALL`` included."""
    return {c.name: dict(c.codes) for c in declared.columns if c.codes}


def _about(declared: Product) -> dict:
    """What the dictionary file and the API's catalog both say of a product."""
    return {"table": declared.table, "title": _pair(declared.title_ko, declared.title_en),
            "description": _pair(declared.description_ko, declared.description_en), "grain": declared.grain,
            "margins": declared.margins, "margin_value": ALL, "columns": columns(declared), "codes": codes(declared),
            "suppression": suppression(declared)}


def describe(declared: Product, build: dict | None = None) -> dict:
    """The product's machine-readable dictionary (``<product>.dictionary.json``); ``build``:
    the version, rows and suppressed cells of the build the files hold."""
    return {"product": declared.name, **_about(declared), "margin": MARGIN, **({"build": build} if build else {})}


def catalog_entry(declared: Product, sources: tuple[str, ...]) -> dict:
    """The product's entry in the export API's catalog (``sources``: the tables it is built from)."""
    return {"name": declared.name, **_about(declared), "sources": list(sources),
            "rules": [r["en"] for r in rules(declared)], "filters": declared.filters}


def column_comment(column: ProductColumn) -> str:
    """One line for a column: titles, unit and descriptions, Korean then English."""
    unit = UNITS[column.unit] if column.unit else None
    ko = f"{column.title_ko}" + (f" ({unit['ko']})" if unit else "") + (f": {column.description_ko}"
                                                                         if column.description_ko else "")
    en = f"{column.title_en}" + (f" ({unit['en']})" if unit else "") + (f": {column.description}"
                                                                        if column.description else "")
    return f"{ko} / {en}"


def sharing_description(declared: Product) -> str:
    """The table's description for Delta Sharing's ``metaData``: titles, descriptions and what
    ``suppressed`` means, Korean then English."""
    return (f"{declared.title_ko}\n{declared.description_ko}\n{SUPPRESSED['ko']}\n\n"
            f"{declared.title_en}\n{declared.description_en}\n{SUPPRESSED['en']}")


def sharing_schema(declared: Product, schema_json: str) -> str:
    """A Delta schema string with each declared column's comment in its ``metadata``, as Spark
    writes column comments (a column the declaration lacks keeps its metadata)."""
    schema = json.loads(schema_json)
    found = {c.name: c for c in declared.columns}
    for field in schema.get("fields", []):
        if field.get("name") in found:
            field["metadata"] = {**field.get("metadata", {}), "comment": column_comment(found[field["name"]])}
    return json.dumps(schema, ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------- README.md


def _cell(text: object) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(_cell(v) for v in row) + " |" for row in rows)]


def _product_section(declared: Product, file: str | None, build: dict | None) -> list[str]:
    out = [f"## {declared.title_ko}", f"**{declared.title_en}**", "",
           f"- 상품 / product: `{declared.name}`" + (f", 파일 / file: `{file}`" if file else ""),
           f"- 사전 / dictionary: `{declared.name}.dictionary.json`", f"- 단위 / grain: {declared.grain}"]
    if build:
        out.append(f"- 버전 / version: {build.get('version')}, 행 / rows: {build.get('rows')}, "
                   f"비공개 칸 / suppressed cells: {build.get('suppressed_cells')}")
    out += ["", declared.description_ko, "", declared.description_en, "", "### 열 / Columns", ""]
    out += _table(["열 / column", "한국어", "English", "형식 / type", "단위 / unit", "설명", "description"],
                  [[f"`{c.name}`", c.title_ko, c.title_en, c.type,
                    f"{UNITS[c.unit]['ko']} / {UNITS[c.unit]['en']}" if c.unit else "",
                    c.description_ko, c.description] for c in declared.columns])
    for c in declared.columns:
        if c.codes:
            out += ["", f"### 코드 / Codes: `{c.name}` ({c.title_ko} / {c.title_en})", ""]
            rows = [[f"`{code}`", name["ko"], name["en"]] for code, name in c.codes.items()]
            if c.null:
                rows.append(["(빈 값 / empty)", c.null["ko"], c.null["en"]])
            out += _table(["코드 / code", "한국어", "English"], rows)
    out += ["", "### 비공개 규칙 / Disclosure rules", ""]
    out += [f"- {r['ko']}  \n  {r['en']}" for r in rules(declared)]
    return [*out, ""]


def readme(products: list[Product], files: dict[str, str] | None = None,
           builds: dict[str, dict] | None = None) -> str:
    """The folder's ``README.md``: every product's columns, codes and rules, in Korean and English."""
    files, builds = files or {}, builds or {}
    out = ["# 데이터 상품 자료 사전 / Data products: data dictionary", "",
           ("이 폴더의 파일은 경기지역화폐 데이터 플랫폼이 공개 통제(비공개 처리)를 거쳐 내보낸 데이터 상품입니다. "
            "각 상품의 열, 단위, 코드의 뜻과 비공개 규칙을 아래에 적었습니다. 같은 내용이 `<상품>.dictionary.json`에 "
            "기계가 읽을 수 있는 형태로 있습니다."), "",
           ("The files in this folder are disclosure-controlled data products of the Gyeonggi local-currency data "
            "platform. Below: every product's columns, units, the meaning of its codes and its disclosure rules; "
            "`<product>.dictionary.json` holds the same for programs."), "",
           "## 공통 / Common", "",
           f"- {MARGIN['ko']}  \n  {MARGIN['en']}",
           f"- `status` = `suppressed`: {SUPPRESSED['ko']}  \n  {SUPPRESSED['en']}",
           "- 금액은 원 단위 정수입니다. / Amounts are whole won.", ""]
    for declared in products:
        out += _product_section(declared, files.get(declared.name), builds.get(declared.name))
    return "\n".join(out)


def write(folder: Path, products: list[Product], files: dict[str, str] | None = None,
          builds: dict[str, dict] | None = None) -> list[Path]:
    """Write ``README.md`` and each product's ``<product>.dictionary.json`` into ``folder``
    (``files``: product → the data file's name; ``builds``: product → version, rows,
    suppressed cells)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    targets = {f"{p.name}.dictionary.json": json.dumps(describe(p, (builds or {}).get(p.name)), ensure_ascii=False,
                                                       indent=2) + "\n" for p in products}
    targets["README.md"] = readme(products, files, builds)
    for name, text in targets.items():
        target = folder / name
        partial = target.with_name(target.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(target)
        written.append(target)
    return written
