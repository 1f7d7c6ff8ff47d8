"""One Streamlit page script per module (run by ``st.navigation`` from ``app.py``)."""
