"""The `madoguchi` command line: serve, build default artifacts, check data. It sits above every
other package and is the only place that may import all of them."""
