"""``deep-impression app``: a local web page over the package (Gradio).

* :mod:`~deep_impression.app.session`: the work behind the page (loading
  the weights once, one video with its explanation, a folder as a
  resumable batch), plain Python without Gradio, so it is tested alone;
* :mod:`~deep_impression.app.page`: the page itself, built with Gradio (the
  optional ``app`` extra); only ``deep-impression app`` imports it.
"""
