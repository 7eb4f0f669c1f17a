"""The desktop window: Qt widgets, item models and the bridge to the worker thread.

Widgets talk to the layers below only through the store's methods (short calls on the GUI
thread) and the worker thread's signals; nothing here runs SQL or touches llama.cpp.
"""
