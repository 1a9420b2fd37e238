"""tinytorch-inspector: the local web app that shows what a tinytorch run did (see issue 5)."""
