{{- define "cert-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "cert-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cert-operator.labels" -}}
{{ include "cert-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "cert-operator.webhookConfigurationRule" -}}
- apiGroups: [admissionregistration.k8s.io]
  resources: [validatingwebhookconfigurations]
  resourceNames: [{{ include "cert-operator.fullname" . }}]
  # Replicas watch it and write their serving CA into its caBundle.
  verbs: [get, list, watch, patch]
{{- end -}}

{{- /* watchNamespace: the operator keeps its webhook Secret and temporary HTTP-01 Ingresses
beside its Services, in the namespace it serves, and serves no ClusterIssuers. */ -}}
{{- define "cert-operator.checkNamespaces" -}}
{{- /* The webhook's serving Secret and the HTTP-01 challenge Service are looked up in the
cluster resource namespace, and both belong beside the operator's own Services. */ -}}
{{- if and .Values.clusterResourceNamespace (ne .Values.clusterResourceNamespace .Release.Namespace) -}}
{{- fail (printf "clusterResourceNamespace %q must be empty or the release namespace %q: the webhook's serving Secret and the HTTP-01 challenge Service live beside the operator" .Values.clusterResourceNamespace .Release.Namespace) -}}
{{- end -}}
{{- with .Values.watchNamespace -}}
{{- if ne . $.Release.Namespace -}}
{{- fail (printf "watchNamespace %q must be the release namespace %q: install the release into the namespace it serves" . $.Release.Namespace) -}}
{{- end -}}
{{- if $.Values.clusterIssuers -}}
{{- fail "clusterIssuers: ClusterIssuers are not served with watchNamespace; use Issuers in that namespace" -}}
{{- end -}}
{{- if and $.Values.defaultIssuer.name (eq $.Values.defaultIssuer.kind "ClusterIssuer") -}}
{{- fail "defaultIssuer.kind must be Issuer with watchNamespace: ClusterIssuers are not served there" -}}
{{- end -}}
{{- end -}}
{{- end -}}
