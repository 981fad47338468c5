"""Work on a Dask cluster: connecting or starting one and preparing its workers
(``cluster``), and a blocked stage's passes as tasks (``blocks``)."""
