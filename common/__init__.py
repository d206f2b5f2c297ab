"""Code shared by every part of madoguchi: settings, labels, text handling and storage helpers.

It imports none of madoguchi's other packages, so that triage,
retrieval, training and api can all use it.
"""
