"""The data dictionary of the lake's silver and gold tables: for each, its grain, key,
partition and every column's type and meaning.

Each job (and each model's scoring) declares its table next to the code that writes it, as a
``TableDoc`` built on the same DDL string the job conforms its output to, so the dictionary
cannot drift from the tables: a column without a meaning, or a meaning for a column the DDL
lacks, fails ``TableDoc.columns``. ``lcdp dictionary`` prints it, as ``lcdp contracts`` does
for the partners' inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    meaning: str


@dataclass(frozen=True)
class TableDoc:
    table: str  # qualified name, e.g. gold.spending_cube
    grain: str  # what one row is
    key: list[str]
    ddl: str  # the Spark DDL the job conforms to
    meanings: dict[str, str] = field(repr=False)
    partition: str | None = None
    written_by: str = ""

    def columns(self) -> list[Column]:
        declared = [part.strip().split(" ", 1) for part in self.ddl.split(", ")]
        names = [n for n, _ in declared]
        missing = [n for n in names if n not in self.meanings and not n.startswith("_")]
        extra = [n for n in self.meanings if n not in names]
        if missing or extra:
            raise ValueError(f"{self.table}: columns without a meaning {missing}, meanings without a column {extra}")
        lineage = "lineage: the delivery (upload) or ingestion time the row came from"
        return [Column(n, t, self.meanings.get(n, lineage)) for n, t in declared]

    def as_dict(self) -> dict:
        return {"table": self.table, "grain": self.grain, "key": self.key, "partition": self.partition,
                "written_by": self.written_by,
                "columns": [{"name": c.name, "type": c.type, "meaning": c.meaning} for c in self.columns()]}


def render_markdown(docs: list[TableDoc]) -> str:
    out = ["# Lake data dictionary", "",
           "Silver and gold tables, generated from the jobs that write them (`lcdp dictionary`).", ""]
    for doc in docs:
        out += [f"## `{doc.table}`", "", f"- grain: {doc.grain}", f"- key: {', '.join(doc.key)}",
                f"- partitioned by: {doc.partition or '—'}", f"- written by: `{doc.written_by}`", "",
                "| column | type | meaning |", "|---|---|---|"]
        out += [f"| `{c.name}` | {c.type} | {c.meaning} |" for c in doc.columns()]
        out.append("")
    return "\n".join(out)
