# demo.py
