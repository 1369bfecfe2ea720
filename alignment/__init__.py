"""Strategic alignment: tie the use of software to the strategy it was bought for, and say what to do next.

Pure scoring over plain values (`facts`): the Henderson & Venkatraman portfolio (`portfolio`), Luftman
maturity indicators (`maturity`, `survey`), gaps and a roadmap (`roadmap`), legacy displacement
(`displacement`) and emergent strategy (`emergent`). I/O sits at the edges: `reader` turns the pipeline's
DuckDB and the catalog into facts, `views` writes results back for analysts, `report` renders HTML.
"""
