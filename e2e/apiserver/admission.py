class Admission:
    def __init__(self, api, cfg):
        self.api = api
    def admit(self, ki, ns, body, user, opts):
        return body
