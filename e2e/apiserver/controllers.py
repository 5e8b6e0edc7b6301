class Controllers:
    def __init__(self, api, cfg):
        pass
    def start(self):
        pass
    def stop(self):
        pass
