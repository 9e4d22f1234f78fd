"""The data dictionary of the lake's silver and gold tables: for each, its grain, key,
partition and every column's type and meaning.

A table's grain, key and partition are declared in ``lcdp.declarations``; its columns next to
the code that writes it, as ``Columns``: the same DDL string the job conforms its output to,
with a meaning per column, so the dictionary cannot drift from the tables (a column without a
meaning, or a meaning for a column the DDL lacks, fails ``Columns.of``). ``lcdp dictionary``
prints it, as ``lcdp contracts`` does for the partners' inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: what the lineage columns (``_upload_id``, ``_ingested_at``) mean wherever a table keeps them
LINEAGE_MEANING = "lineage: the delivery (upload) or ingestion time the row came from"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    meaning: str


@dataclass(frozen=True)
class Columns:
    """A table's columns: the Spark DDL its writer conforms to, and what each column means."""

    ddl: str
    meanings: dict[str, str] = field(repr=False)

    def of(self, table: str) -> list[Column]:
        declared = [part.strip().split(" ", 1) for part in self.ddl.split(", ")]
        names = [n for n, _ in declared]
        missing = [n for n in names if n not in self.meanings and not n.startswith("_")]
        extra = [n for n in self.meanings if n not in names]
        if missing or extra:
            raise ValueError(f"{table}: columns without a meaning {missing}, meanings without a column {extra}")
        return [Column(n, t, self.meanings.get(n, LINEAGE_MEANING)) for n, t in declared]


@dataclass(frozen=True)
class TableDoc:
    table: str  # qualified name, e.g. gold.spending_cube
    grain: str  # what one row is
    key: list[str]
    columns: Columns
    partition: str | None = None
    written_by: str = ""

    def as_dict(self) -> dict:
        return {"table": self.table, "grain": self.grain, "key": self.key, "partition": self.partition,
                "written_by": self.written_by,
                "columns": [{"name": c.name, "type": c.type, "meaning": c.meaning} for c in self.columns.of(self.table)]}


def render_markdown(docs: list[TableDoc]) -> str:
    out = ["# Lake data dictionary", "",
           "Silver and gold tables, generated from the jobs that write them (`lcdp dictionary`).", ""]
    for doc in docs:
        out += [f"## `{doc.table}`", "", f"- grain: {doc.grain}", f"- key: {', '.join(doc.key)}",
                f"- partitioned by: {doc.partition or '—'}", f"- written by: `{doc.written_by}`", "",
                "| column | type | meaning |", "|---|---|---|"]
        out += [f"| `{c.name}` | {c.type} | {c.meaning} |" for c in doc.columns.of(doc.table)]
        out.append("")
    return "\n".join(out)
