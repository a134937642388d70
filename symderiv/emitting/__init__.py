"""File emission: LaTeX templating and escaping (:mod:`.latex_env`), safe
atomic writing of generated files (:mod:`.files`) and sandboxed, reproducible
PDF compilation (:mod:`.compile_latex`)."""
