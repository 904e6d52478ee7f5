# Two commands: `make book` (run every chapter, build the HTML book) and `make test`.
# Both create .venv and install the library with the book toolchain and the test tools, at the
# exact versions of constraints.txt, on first use.
#   make book PROFILE=quick      embedded data only, offline, minutes
#   make book CHAPTERS=01        run only chapter 1 (others keep their last results)

PYTHON ?= python3.11
PROFILE ?= full
CHAPTERS ?= all
# torch is installed first so that the range in pyproject.toml is already satisfied;
# TORCH_SPEC is passed to pip as it is, e.g. TORCH_SPEC="torch==2.13.0 --index-url URL".
TORCH_SPEC ?= torch==2.13.0
# the extras of the book's environment: book toolchain, test tools, giotto-ph's Rips backend
EXTRAS := book,test,fast

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book test install clean

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

install: $(STAMP)

book: $(STAMP)
	$(BIN)/python -m helpers.book run --profile $(PROFILE) --chapters $(CHAPTERS)
	$(BIN)/python -m helpers.book build --profile $(PROFILE)

test: $(STAMP)
	TORCH_SPEC="$(TORCH_SPEC)" $(BIN)/python -m pytest tests -q
	$(BIN)/python -m helpers.book prepare --profile smoke --out _build/nbval
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider _build/nbval -q
	$(BIN)/python -m helpers.book run --profile smoke
	$(BIN)/python -m helpers.book build --profile smoke
	$(BIN)/python -m pytest tests/test_built_book.py --built-book _build/html -q -p no:cacheprovider

clean:
	rm -rf _build
